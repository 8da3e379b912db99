using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Virtmem;

public class ClassicModeTests(ITestOutputHelper output) : VirtmemTestKit(output)
{
    private const int Ps = 4096;

    [Fact]
    public void Read_faults_load_pages_with_pread_and_leave_them_clean()
    {
        var os = TmpfsFile(8 * Ps, i => (byte)(i / Ps + 'a'));
        using var file = BigFile.FromFile(os, 2 * Ps);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(0, 8);
        for (var pg = 0; pg < 8; pg++)
            Assert.Equal((byte)('a' + pg), vma.Span[pg * Ps + 5]);
        Assert.False(fh.IsDirty);
        Assert.Equal(VirtmemNative.PageLoaded, fh.PageInfo(3).State);
        Assert.Equal(8, fh.Ram.Stats().UsedPages);
    }

    [Fact]
    public void Pages_past_the_end_of_the_os_file_read_as_zeros()
    {
        var os = TmpfsFile(Ps + 100, _ => (byte)'x');
        using var file = BigFile.FromFile(os, Ps);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(0, 3);
        Assert.Equal((byte)'x', vma.Span[Ps + 99]);
        Assert.Equal(0, vma.Span[Ps + 100]);              // the short page is zero-filled
        Assert.True(vma.Span[(2 * Ps)..].IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Zero_file_reads_zeros_until_written()
    {
        using var file = BigFile.Zero(Ps);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(10, 2);
        Assert.True(vma.Span.IndexOfAnyExcept((byte)0) < 0);
        vma.Span[Ps + 1] = 7;
        Assert.True(fh.IsPageDirty(11));
        Assert.False(fh.IsPageDirty(10));
    }

    [Fact]
    public void A_write_through_one_vma_is_seen_through_every_other_vma_of_the_handle()
    {
        using var file = BigFile.Zero(4 * Ps);
        var fh = Open(file, Ps);
        using var a = fh.Mmap(0, 8);
        using var b = fh.Mmap(4, 4);
        b.Span[Ps + 3] = 42;  // page 5 through b
        Assert.Equal(42, a.Span[5 * Ps + 3]);
        a.Span[6 * Ps] = 43;  // page 6 through a
        Assert.Equal(43, b.Span[2 * Ps]);
        Assert.Equal(2, fh.DirtyPageCount);
    }

    [Fact]
    public async Task Writeout_stores_dirty_pages_in_ascending_order_and_markstored_makes_them_clean()
    {
        var store = new RecordingStore();
        using var file = BigFile.Zero(2 * Ps, store);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(0, 8);
        foreach (var pg in new[] { 5, 1, 6, 2 })
            vma.Span[pg * Ps] = (byte)pg;
        Assert.Equal(4, await fh.WriteoutAsync(WriteoutFlags.Store));
        Assert.Equal([(0L, (long)Ps), (1, 0), (2, Ps), (3, 0)], store.Calls.Select(c => (c.Blk, c.Offset)));
        Assert.Equal([1, 2, 5, 6], store.Calls.Select(c => (int)c.Data[0]));
        Assert.Equal(4, fh.DirtyPageCount); // STORE keeps pages dirty
        await fh.WriteoutAsync(WriteoutFlags.MarkStored);
        Assert.False(fh.IsDirty);
        Assert.Equal(5, vma.Span[5 * Ps]); // stored pages stay loaded
        vma.Span[5 * Ps] = 9;              // and can be dirtied again
        Assert.True(fh.IsPageDirty(5));
    }

    [Fact]
    public async Task Discard_drops_dirty_pages_and_reads_load_from_the_file_again()
    {
        var os = TmpfsFile(4 * Ps, _ => (byte)'f');
        using var file = BigFile.FromFile(os, Ps);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(0, 4);
        vma.Span[Ps] = (byte)'w';
        Assert.Equal(1, fh.DirtyPageCount);
        await fh.DiscardAsync();
        Assert.False(fh.IsDirty);
        Assert.Equal((byte)'f', vma.Span[Ps]);
    }

    [Fact]
    public void Unmap_keeps_dirty_pages_and_a_new_vma_shows_them()
    {
        using var file = BigFile.Zero(Ps);
        var fh = Open(file, Ps);
        var vma = fh.Mmap(0, 4);
        vma.Span[2 * Ps + 1] = 77;
        vma.Dispose();
        vma.Dispose(); // a second dispose is a no-op
        Assert.True(vma.IsDisposed);
        Assert.True(fh.IsPageDirty(2));
        using var again = fh.Mmap(2, 1);
        Assert.Equal(77, again.Span[1]);
        Assert.Throws<ObjectDisposedException>(() => vma.Span.Length);
    }

    [Fact]
    public void Mapping_more_than_the_address_space_is_a_typed_exception_and_maps_nothing()
    {
        using var file = BigFile.Zero(Ps);
        var fh = Open(file, Ps);
        var e = Assert.Throws<VirtmemMapLimitException>(() => fh.Mmap(0, 1L << 36)); // 256 TiB
        Assert.Contains("address space", e.Message);
        using var ok = fh.Mmap(0, 1); // the handle is still usable
        ok.Span[0] = 1;
    }

    [Fact]
    public void A_page_size_that_does_not_divide_the_block_size_is_refused()
    {
        using var file = BigFile.Zero(Ps);
        var e = Assert.Throws<ArgumentException>(() => Open(file, 2 * Ps));
        Assert.Contains("invalid argument", e.Message);
    }
}
