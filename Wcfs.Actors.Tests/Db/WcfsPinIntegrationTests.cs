// Issue 6 integration scenarios not covered by WcfsFunctionalTests: handles judged independently,
// pins for unmapped blocks applied by a later Mmap, and a server killed mid-transaction. Real
// server child process (ServerProcess), real SQLite, real page faults; no mocks.

using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class WcfsPinIntegrationTests : WcfsDbTestBase
{
    /// <summary>A file "f" with "r1" in block 0 and "s1" in block 1, committed; returns the db and at1.</summary>
    private async Task<(Database Db, Connection Writer, Vma WriterVma, Tid At1)> WithFileAsync(TimeSpan? reattach = null)
    {
        var db = await OpenDatabaseAsync(reattach);
        var w = await db.OpenConnectionAsync();
        w.Root["f"] = ZBigFile.Create(w, Block);
        await w.CommitAsync();
        var vw = await MapAsync(w, 0, 2);
        Write(vw, 0, "r1");
        Write(vw, 1, "s1");
        var at1 = await w.CommitAsync();
        return (db, w, vw, at1);
    }

    private static async Task<Vma> MapAsync(Connection c, long blk, long blocks)
    {
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        return await h.MmapAsync(blk * Block / h.PageSize, blocks * Block / h.PageSize);
    }

    private static void Write(Vma v, long blk, string text) => Encoding.UTF8.GetBytes(text).CopyTo(v.GetSpan(blk * Block, Block));

    private static string Read(Vma v, long blk) => Encoding.UTF8.GetString(v.GetSpan(blk * Block, 64)).TrimEnd('\0');

    [Fact]
    public async Task Two_handles_of_one_file_at_the_same_revision_judge_a_pin_each_by_their_own_dirty_pages()
    {
        // A connection has one BigFileH per file, so the two handles live in two connections at
        // the same At (one WCFS Conn each, same process, same server): each pin reaches both.
        var (db, w, vw, at1) = await WithFileAsync();
        var c1 = await db.OpenConnectionAsync();
        var c2 = await db.OpenConnectionAsync();
        Assert.Equal(at1, c1.At);
        Assert.Equal(at1, c2.At);
        using var v1 = await MapAsync(c1, 0, 2);
        using var v2 = await MapAsync(c2, 0, 2);
        var h1 = await c1.Root.Get<ZBigFile>("f").OpenAsync();
        var h2 = await c2.Root.Get<ZBigFile>("f").OpenAsync();
        Assert.NotSame(h1.FileH, h2.FileH);

        Write(v1, 0, "c1 dirty");           // block 0: dirty in c1, clean in c2
        Write(v2, 1, "c2 dirty");           // block 1: clean in c1, dirty in c2
        Assert.Equal("s1", Read(v1, 1));
        Assert.Equal("r1", Read(v2, 0));

        Write(vw, 0, "r2");
        Write(vw, 1, "s2");
        await w.CommitAsync();
        var oid = c1.Root.Get<ZBigFile>("f").Oid;
        // Reading head pins both blocks to at1 in both watches (this process's pinner acks).
        Assert.Equal("r2", ServerProcess.ReadBlock(Server.HeadPath(oid), 0, Block));
        Assert.Equal("s2", ServerProcess.ReadBlock(Server.HeadPath(oid), 1, Block));

        Assert.Equal("c1 dirty", Read(v1, 0)); // dirty in c1: stays
        Assert.Equal("s1", Read(v1, 1));       // clean in c1: re-mapped to @at1
        Assert.Equal("r1", Read(v2, 0));       // clean in c2: re-mapped to @at1
        Assert.Equal("c2 dirty", Read(v2, 1)); // dirty in c2: stays
        foreach (var h in new[] { h1, h2 })
        {
            Assert.Equal(at1, h.FileH!.Pinned[new BlockNumber(0)]);
            Assert.Equal(at1, h.FileH!.Pinned[new BlockNumber(1)]);
        }

        await h1.DiscardAsync();               // no resync: each base shows its own pins
        await h2.DiscardAsync();
        Assert.Equal("r1", Read(v1, 0));
        Assert.Equal("s1", Read(v2, 1));
        await c1.AbortAsync();                 // to the latest: head, pins gone
        Assert.Equal("r2", Read(v1, 0));
        Assert.Empty(h1.FileH!.Pinned);
        Assert.Equal("s1", Read(v2, 1));       // c2 still at at1
    }

    [Fact]
    public async Task A_pin_for_a_block_outside_every_mapping_is_applied_by_a_later_mmap()
    {
        var (db, w, vw, at1) = await WithFileAsync();
        var c = await db.OpenConnectionAsync();
        using var v0 = await MapAsync(c, 0, 1);  // only block 0
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        Assert.Equal("r1", Read(v0, 0));

        Write(vw, 1, "s2");
        await w.CommitAsync();
        var oid = c.Root.Get<ZBigFile>("f").Oid;
        Assert.Equal("s2", ServerProcess.ReadBlock(Server.HeadPath(oid), 1, Block)); // pins block 1 in c's watch
        Assert.Equal(at1, h.FileH!.Pinned[new BlockNumber(1)]);
        Assert.False(h.FileH!.Pinned.ContainsKey(new BlockNumber(0)));

        using var v1 = await MapAsync(c, 1, 1);  // block 1 mapped only now
        Assert.Equal("s1", Read(v1, 0));
        Assert.Equal("r1", Read(v0, 0));
        await c.AbortAsync();
        Assert.Equal("s2", Read(v1, 0));
    }

    [Fact]
    public async Task A_server_killed_mid_transaction_and_none_back_within_the_reattach_timeout_fails_the_commit_loses_nothing_committed_and_a_new_server_serves_a_new_database()
    {
        var (db, w, vw, at1) = await WithFileAsync(reattach: TimeSpan.FromSeconds(2));
        var oid = w.Root.Get<ZBigFile>("f").Oid;
        Write(vw, 0, "dirty at the kill");
        Assert.True(w.HasChanges);

        await Server.KillHardAsync();
        // The storage commit needs no server; the resync after it does: it waits for a new server
        // (2 s here), then the commit reports the broken WCFS connection (bounded, no hang) and says
        // that the data is stored.
        var failure = await Assert.ThrowsAsync<WcfsServerGoneException>(
            () => w.CommitAsync().WaitAsync(TestTimeouts.Scale(TimeSpan.FromSeconds(30))));
        Assert.Contains("is stored in the database", failure.Message);

        // Nothing committed is lost: at1 as it was, and the commit that was stored.
        var buf = new byte[Block];
        using (var st = StorageFactory.Open(Server.Url))
        {
            Assert.True(st.LastTid > at1);
            Assert.Contains($"@{st.LastTid}", failure.Message);
            st.ReadBlock(oid, 0, at1, buf);
            Assert.Equal("r1", Encoding.UTF8.GetString(buf, 0, 2));
            st.ReadBlock(oid, 0, st.LastTid, buf);
            Assert.Equal("dirty at the kill", Encoding.UTF8.GetString(buf, 0, 17));
            st.ReadBlock(oid, 1, st.LastTid, buf);
            Assert.Equal("s1", Encoding.UTF8.GetString(buf, 0, 2));
        }
        await db.DisposeAsync(); // closing over a dead server releases everything and does not throw
        Dbs.Remove(db);

        await Server.RestartAsync();
        var db2 = await OpenDatabaseAsync();
        var c = await db2.OpenConnectionAsync();
        using var v = await MapAsync(c, 0, 2);
        Assert.Equal("dirty at the kill", Read(v, 0));
        Assert.Equal("s1", Read(v, 1));
        Assert.Equal(Server.Storage.LastTid, c.At);
        Write(v, 1, "after restart");
        var at3 = await c.CommitAsync();
        Assert.Equal("after restart", ServerProcess.ReadBlock(Server.RevPath(at3, oid), 1, Block));
    }
}
