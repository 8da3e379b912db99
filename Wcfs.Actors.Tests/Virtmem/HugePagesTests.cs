// Dirty 2 MiB pages in hugetlb pages (ram.c R4, wcfs.virtmem.huge-pages): taken while the kernel
// has one, given back at writeout and discard, mapped in every VMA of the handle, ordinary memory
// when the pool is empty or the setting is off. The kernel's pool is a machine setting
// (vm.nr_hugepages): these tests raise it for their run as root and put it back.
using Akka.Actor;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Virtmem;

public sealed class HugePagesTests : VirtmemTestKit
{
    private const long Mib2 = 2L << 20;
    private const string Dir = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
    private readonly long _poolBefore;

    public HugePagesTests(ITestOutputHelper output) : base(output)
    {
        // why +8: the pages these tests use, on top of whatever the machine's pool has (or lends to
        // another test meanwhile); the same number comes off again in Dispose
        _poolBefore = Read("nr_hugepages");
        Write("nr_hugepages", _poolBefore + 8);
        Assert.True(Read("free_hugepages") >= 4,
            $"the kernel gave no huge pages for the test (nr_hugepages {Read("nr_hugepages")}, free {Read("free_hugepages")})");
    }

    private static long Read(string name) => long.Parse(File.ReadAllText(Dir + name).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static void Write(string name, long value)
    {
        try
        {
            File.WriteAllText(Dir + name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"these tests change the huge page pool ({Dir}{name}) and need root");
        }
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        Write("nr_hugepages", _poolBefore);
    }

    private (BigFileH H, Vma Vma, RecordingStore Store) Overlay(IActorRef virtmem)
    {
        var store = new RecordingStore();
        var head = TmpfsFile(4 * Mib2, _ => (byte)'h');
        var file = Track(BigFile.OverPlainFile(head, Mib2, store));
        var fh = VirtmemProtocol.OpenAsync(virtmem, file, Timeout).GetAwaiter().GetResult();
        var vma = Track(fh.Mmap(0, 4));
        return (fh, vma, store);
    }

    [Fact]
    public async Task Dirty_pages_take_huge_pages_in_every_vma_and_give_them_back_at_writeout_and_discard()
    {
        var (fh, vma, store) = Overlay(Virtmem(Mib2));
        using var second = fh.Mmap(0, 4);
        Assert.Equal(0, (long)vma.Address % Mib2); // VMAs start at a huge-page boundary
        vma.Span[10] = (byte)'w';
        vma.Span[(int)(2 * Mib2) + 5] = (byte)'v';
        Assert.Equal((true, 2L), fh.Ram.HugeStats());
        Assert.Equal((byte)'w', second.Span[10]); // the same huge page in the other VMA
        Assert.Equal((byte)'v', second.Span[(int)(2 * Mib2) + 5]);
        Assert.Equal((byte)'h', vma.Span[11]); // the rest of the page was copied from the base
        Assert.Equal((byte)'h', vma.Span[(int)Mib2]); // an untouched page is still the base
        second.Span[12] = (byte)'x'; // a write through the other VMA lands in the same page
        Assert.Equal((byte)'x', vma.Span[12]);

        Assert.Equal(2, await fh.WriteoutAsync(WriteoutFlags.Store | WriteoutFlags.MarkStored));
        Assert.Equal([0L, 2L], store.Calls.Select(c => c.Blk));
        Assert.Equal("hhhhhhhhhhwhx", System.Text.Encoding.ASCII.GetString(store.Calls[0].Data, 0, 13));
        Assert.Equal((true, 0L), fh.Ram.HugeStats());
        Assert.Equal((0L, 0L), fh.Ram.Stats());
        Assert.True(vma.Span.IndexOfAnyExcept((byte)'h') < 0); // the base again

        vma.Span[(int)(3 * Mib2)] = (byte)'d';
        Assert.Equal((true, 1L), fh.Ram.HugeStats());
        await fh.DiscardAsync();
        Assert.Equal((true, 0L), fh.Ram.HugeStats());
        Assert.True(second.Span.IndexOfAnyExcept((byte)'h') < 0);
    }

    [Fact]
    public void With_no_huge_page_left_a_dirty_page_takes_ordinary_memory()
    {
        var (fh, vma, _) = Overlay(Virtmem(Mib2)); // the RAM was made while the pool had pages
        vma.Span[0] = (byte)'a';
        Assert.Equal((true, 1L), fh.Ram.HugeStats());
        // Empty the pool of free pages (pages in use stay; the kernel frees them as surplus later).
        Write("nr_hugepages", Read("nr_hugepages") - Read("free_hugepages"));
        Assert.Equal(0, Read("free_hugepages"));
        vma.Span[(int)Mib2 + 1] = (byte)'b';
        Assert.Equal((true, 1L), fh.Ram.HugeStats()); // the new page is not a huge one
        Assert.Equal(2L, fh.Ram.Stats().UsedPages);
        Assert.Equal((byte)'b', vma.Span[(int)Mib2 + 1]);
        Assert.Equal((byte)'h', vma.Span[(int)Mib2]);
        Assert.Equal((byte)'a', vma.Span[0]);
    }

    [Fact]
    public void With_the_setting_off_or_small_pages_no_huge_page_is_used()
    {
        var off = Sys.ActorOf(VirtmemProtocol.Props(new VirtmemProtocol.Settings(Mib2, 64 * Mib2, Timeout, HugePages: false)), "virtmem-huge-off");
        var (fh, vma, _) = Overlay(off);
        vma.Span[0] = (byte)'a';
        Assert.Equal((false, 0L), fh.Ram.HugeStats());
        Assert.Equal(1L, fh.Ram.Stats().UsedPages);
        using var small = VmRamHandle.Create(4096, 16, hugePages: true); // 4 KiB pages cannot be huge pages
        Assert.Equal((false, 0L), small.HugeStats());
        using var on = VmRamHandle.Create(Mib2, 16, hugePages: true);
        Assert.Equal((true, 0L), on.HugeStats());
    }
}
