using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Virtmem;

/// <summary>Overlay mode over a plain tmpfs file as the base layer (VIRTMEM.md §3).</summary>
public class OverlayModeTests(ITestOutputHelper output) : VirtmemTestKit(output)
{
    private const int Ps = 4096;

    private (BigFile File, BigFileH H, Vma Vma) Overlay(int blocks, long blockSize, long pageSize, IBlockStore? store = null)
    {
        var head = TmpfsFile(blocks * blockSize, i => (byte)'h');
        var file = Track(BigFile.OverPlainFile(head, blockSize, store));
        var fh = Open(file, pageSize);
        var vma = Track(fh.Mmap(0, blocks * blockSize / pageSize));
        return (file, fh, vma);
    }

    [Fact]
    public void Reads_come_from_the_base_and_use_no_ram()
    {
        var (_, fh, vma) = Overlay(4, Ps, Ps);
        Assert.True(vma.Span.IndexOfAnyExcept((byte)'h') < 0);
        Assert.Equal((0L, 0L), fh.Ram.Stats());
        Assert.False(fh.IsDirty);
    }

    [Fact]
    public void The_first_write_copies_the_base_page_into_ram()
    {
        var (_, fh, vma) = Overlay(4, Ps, Ps);
        vma.Span[Ps + 10] = (byte)'w';
        Assert.Equal((byte)'w', vma.Span[Ps + 10]);
        Assert.Equal((byte)'h', vma.Span[Ps + 11]); // the rest of the page is the base's
        Assert.Equal((1L, (long)Ps), fh.Ram.Stats());
        Assert.Equal(VirtmemNative.PageDirty, fh.PageInfo(1).State);
        Assert.Equal(VirtmemNative.PageBase, fh.PageInfo(0).State);
    }

    [Fact]
    public async Task Markstored_maps_the_base_again_and_frees_ram()
    {
        var store = new RecordingStore();
        var (_, fh, vma) = Overlay(4, Ps, Ps, store);
        vma.Span[3 * Ps] = (byte)'w';
        vma.Span[0] = (byte)'v';
        Assert.Equal(2, await fh.WriteoutAsync(WriteoutFlags.Store | WriteoutFlags.MarkStored));
        Assert.Equal([0L, 3L], store.Calls.Select(c => c.Blk));
        Assert.Equal((byte)'w', store.Calls[1].Data[0]);
        Assert.True(vma.Span.IndexOfAnyExcept((byte)'h') < 0); // the base: the "commit" did not change it
        Assert.Equal((0L, 0L), fh.Ram.Stats());
    }

    [Fact]
    public async Task Discard_maps_the_base_again_and_frees_ram()
    {
        var (_, fh, vma) = Overlay(2, Ps, Ps);
        vma.Span.Fill((byte)'w');
        Assert.Equal(2, fh.DirtyPageCount);
        await fh.DiscardAsync();
        Assert.True(vma.Span.IndexOfAnyExcept((byte)'h') < 0);
        Assert.Equal((0L, 0L), fh.Ram.Stats());
    }

    [Fact]
    public async Task A_pin_leaves_a_dirty_page_alone_and_applies_once_the_page_is_discarded()
    {
        var (file, fh, vma) = Overlay(4, Ps, Ps);
        var rev = TmpfsFile(4 * Ps, _ => (byte)'r');
        vma.Span[Ps] = (byte)'d';
        file.SetBlockBase(new BlockNumber(1), rev); // the backend's "pinned[1] = @rev"
        file.SetBlockBase(new BlockNumber(2), rev);
        var stayed = new byte[1];
        Assert.Equal(1, fh.Pin(new BlockNumber(1), stayed));
        Assert.Equal(1, stayed[0]);
        Assert.Equal(0, fh.Pin(new BlockNumber(2), stayed));
        Assert.Equal((byte)'d', vma.Span[Ps]);       // the dirty page stayed
        Assert.Equal((byte)'h', vma.Span[Ps + 1]);
        Assert.Equal((byte)'r', vma.Span[2 * Ps]);   // the clean block was remapped
        await fh.DiscardAsync();
        Assert.Equal((byte)'r', vma.Span[Ps]);       // the pin took effect with the discard
        Assert.Equal((byte)'r', vma.Span[Ps + 1]);
        Assert.Equal((byte)'h', vma.Span[0]);
    }

    [Fact]
    public void A_pin_of_a_block_with_smaller_pages_remaps_only_its_clean_pages()
    {
        var (file, fh, vma) = Overlay(2, 4 * Ps, Ps);   // 4 pages per block
        var rev = TmpfsFile(8 * Ps, _ => (byte)'r');
        vma.Span[4 * Ps + Ps] = (byte)'d';             // page 1 of block 1
        file.SetBlockBase(new BlockNumber(1), rev);
        var stayed = new byte[4];
        Assert.Equal(1, fh.Pin(new BlockNumber(1), stayed));
        Assert.Equal([0, 1, 0, 0], stayed);
        var block1 = vma.Span.Slice(4 * Ps, 4 * Ps);
        Assert.Equal((byte)'r', block1[0]);
        Assert.Equal((byte)'d', block1[Ps]);
        Assert.Equal((byte)'h', block1[Ps + 1]);       // the dirty page keeps its copy of the old base
        Assert.Equal((byte)'r', block1[2 * Ps]);
        Assert.Equal((byte)'r', block1[3 * Ps]);
        Assert.Equal((byte)'h', vma.Span[0]);          // block 0 is not touched
    }

    [Fact]
    public void Dirty_pages_appear_at_once_in_a_new_vma_of_the_handle()
    {
        var (_, fh, vma) = Overlay(2, Ps, Ps);
        vma.Span[Ps] = (byte)'w';
        using var second = fh.Mmap(0, 2);
        Assert.Equal((byte)'w', second.Span[Ps]);
        second.Span[0] = (byte)'x';                     // and a write through it reaches the first
        Assert.Equal((byte)'x', vma.Span[0]);
        Assert.Equal((2L, 2L * Ps), fh.Ram.Stats());     // one RAM page per dirty page, shared
    }

    [Fact]
    public async Task A_write_between_store_and_markstored_is_reported_and_nothing_is_lost()
    {
        var store = new RecordingStore();
        var (_, fh, vma) = Overlay(2, Ps, Ps, store);
        vma.Span[0] = 1;
        await fh.WriteoutAsync(WriteoutFlags.Store);
        vma.Span[0] = 2; // usage error: a write while the writeout runs
        await Assert.ThrowsAsync<VirtmemWrittenDuringStoreException>(() => fh.WriteoutAsync(WriteoutFlags.MarkStored));
        Assert.Equal(2, vma.Span[0]);  // not lost: still dirty
        Assert.True(fh.IsPageDirty(0));
        Assert.Equal(1, await fh.WriteoutAsync(WriteoutFlags.Store | WriteoutFlags.MarkStored));
        Assert.Equal(2, store.Calls[^1].Data[0]);
        Assert.False(fh.IsDirty);
    }

    [Fact]
    public void Overlay_mappings_must_cover_whole_blocks()
    {
        var head = TmpfsFile(8 * Ps, _ => 0);
        using var file = BigFile.OverPlainFile(head, 4 * Ps);
        var fh = Open(file, Ps);
        Assert.Throws<ArgumentException>(() => fh.Mmap(1, 4));
    }
}
