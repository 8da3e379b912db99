// A WCFS Mapping as the base layer of a virtmem VMA (the native association of issue 6, VIRTMEM.md
// §4): "check dirty, then remap" on a pin, and the pin applied when the dirty page goes away. Uses
// the raw native surfaces of both layers (the managed BigFileH association is issue 6's).
using System.Text;
using Wcfs.Actors.Tests.Server;
using Wcfs.Native.Interop;
using Xunit;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class BaseLayerTests
{
    private static void Ok(long rc, string what) => Assert.True(rc >= 0, $"{what}: rc {rc}");

    private static unsafe string Page(nint addr, int pg) => Encoding.UTF8.GetString(new ReadOnlySpan<byte>((byte*)addr + pg * 4096, 4096)).TrimEnd('\0');

    private static unsafe void Write(nint addr, int pg, string text) => Encoding.UTF8.GetBytes(text).CopyTo(new Span<byte>((byte*)addr + pg * 4096, 4096));

    [Fact]
    public async Task A_pin_for_a_dirty_page_of_a_VMA_over_a_Mapping_leaves_the_page_and_applies_at_discard()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"), (1, "b1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        Ok(VirtmemNative.Init(), "vm_init");
        Ok(ClientNative.FileVmBase(fh.NativeHandle.DangerousGetHandle(), out var vmFile), "wcl_file_vm_base");
        Ok(VirtmemNative.RamCreate(4096, 16, out var ram), "vm_ram_create");
        Ok(VirtmemNative.FileHOpen(vmFile, ram, out var vmfh), "vm_fileh_open");
        Ok(VirtmemNative.Mmap(vmfh, 0, 2, out var vma, out var addr), "vm_mmap");
        try
        {
            Assert.Equal(["a1", "b1"], new[] { Page(addr, 0), Page(addr, 1) }); // the base: WCFS head
            Write(addr, 1, "mine"); // write fault: copy of the base, dirty RAM page over it
            Assert.Equal(1, VirtmemNative.FileHIsPageDirty(vmfh, 1));

            await w.CommitAsync(f, (0, "a2"), (1, "b2"));
            Assert.Equal("a1", Page(addr, 0)); // clean page: re-mapped to @at1 by its (self-)pin
            Assert.Equal("b2", await ServerProcess.ReadBlockAsync(w.Server.HeadPath(f), 1)); // pins block 1 here too
            Assert.Equal("mine", Page(addr, 1)); // dirty page: left in place ...
            ExpectPinned(fh, (0, at1), (1, at1)); // ... but the pin is recorded

            Ok(VirtmemNative.Discard(vmfh), "vm_discard");
            Assert.Equal("b1", Page(addr, 1)); // the dirty page went away: block 1 as the pin says, not head
            Assert.Equal(0, VirtmemNative.FileHIsPageDirty(vmfh, 1));
        }
        finally
        {
            Ok(VirtmemNative.Unmap(vma), "vm_unmap");
            Ok(VirtmemNative.FileHClose(vmfh), "vm_fileh_close");
            Ok(VirtmemNative.FileDestroy(vmFile), "vm_file_destroy");
            Ok(VirtmemNative.RamDestroy(ram), "vm_ram_destroy");
        }
    }
}
