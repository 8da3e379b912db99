// A WCFS Mapping as the base layer of a virtmem VMA (the native association of issue 6, VIRTMEM.md
// §4): "check dirty, then remap" on a pin, and the pin applied when the dirty page goes away. Uses
// the raw native surfaces of both layers (the managed BigFileH association is issue 6's).
using System.Text;
using Wcfs.Actors.Client;
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
        using var vm = new VmOverFile(fh, pages: 2);
        var (vmfh, addr) = (vm.FileH, vm.Addr);
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

    private static ulong ZeroBaseFaults()
    {
        Ok(VirtmemNative.ZeroBaseFaults(out var n), "vm_zero_base_faults");
        return n;
    }

    private static unsafe bool ZerosAfter(nint addr, int pg, int from) => !new ReadOnlySpan<byte>((byte*)addr + pg * 4096 + from, 4096 - from).ContainsAnyExcept((byte)0);

    [Fact]
    public async Task A_write_fault_over_the_zero_mapping_skips_the_copy_one_over_data_copies_it_and_growth_keeps_dirty_pages()
    {
        // The base layer notes which pages of a VMA are the zero mapping (past the file's size at
        // the conn's at, or pinned to a revision the block is past the end of); a write fault there
        // is served without reading the base. Everywhere else the base is copied. The counter is
        // process-wide: tests running in parallel can only raise it, so the checks are "at least"
        // where we expect a skip and exact bytes everywhere.
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"), (1, "b1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var vm = new VmOverFile(fh, pages: 5);
        var addr = vm.Addr;
        var before = ZeroBaseFaults();
        Write(addr, 2, "x"); // past the size at at1: the zero mapping
        Assert.True(ZeroBaseFaults() >= before + 1, "a write past the file's size copied its (zero) base");
        Assert.Equal("x", Page(addr, 2));
        Assert.True(ZerosAfter(addr, 2, 1));

        Write(addr, 0, "y"); // over head data: copied, so the rest of the block is still there
        Assert.Equal("y1", Page(addr, 0));
        Assert.True(ZerosAfter(addr, 0, 2));

        // Blocks 3 and 4 get data at at2; the conn stays at at1: pinned to @at1, past its end.
        var at2 = await w.CommitAsync(f, (3, "d2"), (4, "e2"));
        Assert.Equal("d2", await ServerProcess.ReadBlockAsync(w.Server.HeadPath(f), 3)); // pins 3 here
        Assert.Equal("e2", await ServerProcess.ReadBlockAsync(w.Server.HeadPath(f), 4));
        before = ZeroBaseFaults();
        Write(addr, 3, "w");
        Assert.True(ZeroBaseFaults() >= before + 1, "a write over a block pinned past @at1's end copied its base");
        Assert.Equal("w", Page(addr, 3)); // not "w2": the conn still sees at1

        // Moved to at2, the file grew from 2 to 5 blocks: growth leaves the dirty pages 2 and 3
        // in place (VIRTMEM.md §4.5; it used to re-map them to head, losing both writes from
        // view), and block 4 is data now (head): its write fault must copy it.
        await conn.ResyncAsync(at2);
        Assert.Equal("e2", Page(addr, 4));
        Write(addr, 4, "v");
        Assert.Equal("v2", Page(addr, 4));
        Assert.Equal("w", Page(addr, 3)); // the dirty page stayed
        Assert.Equal("x", Page(addr, 2));
    }

    /// <summary>A virtmem handle whose base layer is a WCFS file's Mapping, mapped from page 0 (4 KiB pages); Dispose undoes it all.</summary>
    private sealed class VmOverFile : IDisposable
    {
        private readonly nint _vmFile, _ram, _vma;

        public VmOverFile(FileH fh, ulong pages)
        {
            Ok(VirtmemNative.Init(), "vm_init");
            Ok(ClientNative.FileVmBase(fh.NativeHandle.DangerousGetHandle(), out _vmFile), "wcl_file_vm_base");
            Ok(VirtmemNative.RamCreate(4096, 16, out _ram), "vm_ram_create");
            Ok(VirtmemNative.FileHOpen(_vmFile, _ram, out var vmfh), "vm_fileh_open");
            FileH = vmfh;
            Ok(VirtmemNative.Mmap(vmfh, 0, pages, out _vma, out var addr), "vm_mmap");
            Addr = addr;
        }

        public nint FileH { get; }

        public nint Addr { get; }

        public void Dispose()
        {
            Ok(VirtmemNative.Unmap(_vma), "vm_unmap");
            Ok(VirtmemNative.FileHClose(FileH), "vm_fileh_close");
            Ok(VirtmemNative.FileDestroy(_vmFile), "vm_file_destroy");
            Ok(VirtmemNative.RamDestroy(_ram), "vm_ram_destroy");
        }
    }
}
