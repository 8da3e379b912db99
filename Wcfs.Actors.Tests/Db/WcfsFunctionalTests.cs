// The functional suite of issue 6 through Database/Connection/ZBigFile over a real WCFS server
// (child process), real SQLite, real page faults.

using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Wcfs.Actors.Virtmem;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class WcfsFunctionalTests : WcfsDbTestBase
{
    /// <summary>A committed file named "f" (2 blocks mapped by the helpers below).</summary>
    private async Task<Database> WithFileAsync()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c, Block);
        await c.CommitAsync();
        await c.DisposeAsync();
        return db;
    }

    private static async Task<Vma> MapAsync(Connection c)
    {
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        return await h.MmapAsync(0, 2L * Block / h.PageSize);
    }

    private static void Write(Vma v, long blk, string text) => Encoding.UTF8.GetBytes(text).CopyTo(v.GetSpan(blk * Block, Block));

    private static string Read(Vma v, long blk) => Encoding.UTF8.GetString(v.GetSpan(blk * Block, 64)).TrimEnd('\0');

    [Fact]
    public async Task A_new_file_reads_as_zeros_and_an_aborted_write_leaves_zeros()
    {
        var db = await WithFileAsync();
        var c = await db.OpenConnectionAsync();
        using var v = await MapAsync(c);
        Assert.True(v.Span.IndexOfAnyExcept((byte)0) < 0);
        Write(v, 1, "hello");
        await c.AbortAsync();
        Assert.Equal("", Read(v, 1));
    }

    [Fact]
    public async Task Committed_data_is_seen_after_reopening_everything_and_through_head()
    {
        var db = await WithFileAsync();
        var c = await db.OpenConnectionAsync();
        using (var v = await MapAsync(c))
        {
            Write(v, 0, "a1");
            await c.CommitAsync();
        }
        var oid = c.Root.Get<ZBigFile>("f").Oid;
        await db.DisposeAsync();
        Dbs.Remove(db);

        Assert.Equal("a1", ServerProcess.ReadBlock(Server.HeadPath(oid), 0, Block));
        var db2 = await OpenDatabaseAsync();
        using var v2 = await MapAsync(await db2.OpenConnectionAsync());
        Assert.Equal("a1", Read(v2, 0));
    }

    [Fact]
    public async Task Another_connection_sees_a_change_only_after_its_own_transaction_boundary_even_after_the_page_cache_is_dropped()
    {
        var db = await WithFileAsync();
        var w = await db.OpenConnectionAsync();
        var r = await db.OpenConnectionAsync();
        using var vw = await MapAsync(w);
        using var vr = await MapAsync(r);
        Write(vw, 0, "b1");
        await w.CommitAsync();
        Assert.Equal("", Read(vr, 0));
        await File.WriteAllTextAsync("/proc/sys/vm/drop_caches", "3");
        Assert.Equal("", Read(vr, 0));
        await r.AbortAsync();
        Assert.Equal("b1", Read(vr, 0));
    }

    [Fact]
    public async Task The_second_writer_of_a_block_conflicts_drops_its_pages_and_then_reads_the_winners_data()
    {
        var db = await WithFileAsync();
        var c1 = await db.OpenConnectionAsync();
        var c2 = await db.OpenConnectionAsync();
        using var v1 = await MapAsync(c1);
        using var v2 = await MapAsync(c2);
        Write(v1, 0, "winner");
        Write(v2, 0, "loser");
        Write(v2, 1, "other block");
        await c1.CommitAsync();
        await Assert.ThrowsAsync<ConflictException>(() => c2.CommitAsync());
        Assert.Equal("winner", Read(v2, 0));
        Assert.Equal("", Read(v2, 1));

        Write(v2, 1, "c2 block 1");
        Write(v1, 0, "c1 block 0");
        await c1.CommitAsync();
        await c2.CommitAsync(); // different blocks: both commit
        Assert.Equal("c1 block 0", Read(v2, 0));
    }

    [Fact]
    public async Task A_pin_for_a_dirty_page_is_remembered_and_applied_when_the_page_is_discarded()
    {
        var db = await WithFileAsync();
        var w = await db.OpenConnectionAsync();
        using var vw = await MapAsync(w);
        Write(vw, 0, "r1");
        Write(vw, 1, "s1");
        var at1 = await w.CommitAsync();

        var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, 2L * Block / h.PageSize);
        Assert.Equal(at1, c.At);
        Assert.Equal("r1", Read(v, 0));
        Write(v, 0, "mine");
        Assert.True(h.IsPageDirty(0));

        Write(vw, 0, "r2");
        Write(vw, 1, "s2");
        await w.CommitAsync();
        var oid = c.Root.Get<ZBigFile>("f").Oid;
        // Reading head pins both blocks to at1 in c's watch (this process's native pinner acks).
        Assert.Equal("r2", ServerProcess.ReadBlock(Server.HeadPath(oid), 0, Block));
        Assert.Equal("s2", ServerProcess.ReadBlock(Server.HeadPath(oid), 1, Block));
        Assert.Equal("mine", Read(v, 0));   // the dirty page stays
        Assert.Equal("s1", Read(v, 1));     // the clean block was re-mapped to @at1 at once
        Assert.Equal(at1, h.FileH!.Pinned[new BlockNumber(0)]); // the pin was recorded for the dirty block

        await h.DiscardAsync();             // no resync: the base shows exactly what the pins say
        Assert.False(h.IsPageDirty(0));
        Assert.Equal("r1", Read(v, 0));

        Write(v, 1, "c wins nothing");
        await Assert.ThrowsAsync<ConflictException>(() => c.CommitAsync()); // block 1 changed after at1
        Assert.Equal("r2", Read(v, 0));     // aborted to the latest: head again
        Assert.Equal("s2", Read(v, 1));
    }

    [Fact]
    public async Task Write_faults_needing_a_self_pin_while_the_gc_runs_neither_deadlock_nor_show_newer_data()
    {
        var db = await WithFileAsync();
        var w = await db.OpenConnectionAsync();
        using var vw = await MapAsync(w);
        for (var round = 0; round < 3; round++)
        {
            Write(vw, 0, $"old0-{round}");
            Write(vw, 1, $"old1-{round}");
            await w.CommitAsync();

            var c = await db.OpenConnectionAsync();
            var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
            using var v = await h.MmapAsync(0, 2L * Block / h.PageSize);

            Write(vw, 0, $"new0-{round}");
            Write(vw, 1, $"new1-{round}");
            await w.CommitAsync(); // c's blocks are now changed in head and not yet read by c

            using var stop = new CancellationTokenSource();
            var gc = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    GC.Collect();
                    Thread.Sleep(1); // why: back-to-back forced GCs can starve the other threads on 2 cores (a resumed thread may not run before the next suspension); 1 ms apart a GC still runs nearly all the time
                }
            }) { IsBackground = true };
            gc.Start();
            try
            {
                // Each write fault copies the base page, whose read goes through head and pins this
                // very process (its native pinner acks while the faulting thread waits in the handler).
                var writers = Enumerable.Range(0, 2).Select(blk => Task.Run(() =>
                    Encoding.UTF8.GetBytes("+mine").CopyTo(v.GetSpan(blk * Block + 1000, 16)))).ToArray();
                await Task.WhenAll(writers).WaitAsync(TestTimeouts.Scale(TimeSpan.FromSeconds(60)));
            }
            finally
            {
                stop.Cancel();
                Assert.True(gc.Join(TestTimeouts.Scale(TimeSpan.FromSeconds(30))), $"round {round}: the GC.Collect loop did not stop within 30s (GC blocked by a thread in a fault?)");
            }
            Assert.Equal($"old0-{round}", Read(v, 0));   // the copy was of c's revision, not head's
            Assert.Equal($"old1-{round}", Read(v, 1));
            Assert.Equal("+mine", Encoding.UTF8.GetString(v.GetSpan(1000, 5)));
            Assert.Equal("+mine", Encoding.UTF8.GetString(v.GetSpan(Block + 1000, 5)));
            await c.AbortAsync();
            Assert.Equal($"new0-{round}", Read(v, 0));
            await h.DisposeAsync();
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_256_MiB_transaction_commits_and_frees_its_ram()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c, Block);
        await c.CommitAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, (256L << 20) / h.PageSize);
        for (long off = 0; off < v.Length; off += Block)
            v.GetSpan(off, Block).Fill(7);
        Assert.Equal(128, h.DirtyPageCount * h.PageSize / Block);
        await c.CommitAsync();
        Assert.Equal(0, h.DirtyPageCount);
        Assert.Equal(7, v.Span[(int)(v.Length - 1)]);
    }
}
