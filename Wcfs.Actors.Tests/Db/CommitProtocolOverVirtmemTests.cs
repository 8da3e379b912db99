// The commit protocol of a Connection with dirty pages (VIRTMEM.md §3, issue 6 part 4) over real
// virtmem (native fault handler, RAM pages, VirtmemActor writeout) and real SQLite.
//
// NOT a WCFS test: the base layer here is virtmem's classic zero-fill file (every clean page reads
// as zeros), standing in for the WCFS base until the client associates a Mapping with a VMA. What
// these tests prove is the transaction side — STORE collects blocks into the ONE storage commit of
// the objects, MARKSTORED/discard clear the handle, conflicts abort and leave the connection usable —
// checked by reading storage directly. The page-level functional suite through WCFS is in
// WcfsFunctionalTests (excluded until the association exists).
using System.Runtime.InteropServices;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class CommitProtocolOverVirtmemTests : DbTestBase
{
    private const int Block = 256 << 10;

    private protected override IWcfsSessionFactory Sessions => ZeroBaseSessions.Instance;

    private async Task<(Database Db, Oid File)> DatabaseWithFileAsync()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(c, Block);
        c.Root["f"] = f;
        await c.CommitAsync();
        await c.DisposeAsync();
        return (db, f.Oid);
    }

    private static byte[] StoredBlock(Database db, Oid file, long blk, Tid at)
    {
        var buf = new byte[Block];
        db.Storage.ReadBlock(file, blk, at, buf);
        return buf;
    }

    private static void Fill(Vma vma, long offset, int length, byte value) => vma.GetSpan(offset, length).Fill(value);

    [Fact]
    public async Task Dirty_pages_and_object_changes_are_written_in_one_storage_commit()
    {
        var (db, file) = await DatabaseWithFileAsync();
        var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var vma = await h.MmapAsync(0, 2 * Block / h.PageSize);
        Fill(vma, Block + 10, 100, 0xab);
        c.Root["g"] = ZBigFile.Create(c, Block);
        Assert.True(h.IsDirty);

        var tid = await c.CommitAsync();

        Assert.False(h.IsDirty);
        Assert.Equal(tid, db.Storage.LoadObject(Oid.Root, tid)!.Serial);
        Assert.Equal(tid, db.Storage.BlockRevAt(file, 1, tid));
        Assert.Null(db.Storage.BlockRevAt(file, 0, tid)); // a clean block is not written
        var stored = StoredBlock(db, file, 1, tid);
        Assert.All(stored.AsSpan(Block + 10 - Block, 100).ToArray(), b => Assert.Equal(0xab, b));
        Assert.Equal(0, stored[0]);
        Assert.Equal(0xab, vma.Span[Block + 10]); // still visible through the mapping after MARKSTORED
    }

    [Fact]
    public async Task Abort_drops_dirty_pages_and_stores_nothing()
    {
        var (db, file) = await DatabaseWithFileAsync();
        var c = await db.OpenConnectionAsync();
        var before = db.Storage.LastTid;
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var vma = await h.MmapAsync(0, Block / h.PageSize);
        Fill(vma, 0, 4096, 1);

        await c.AbortAsync();

        Assert.False(h.IsDirty);
        Assert.Equal(before, db.Storage.LastTid);
        Assert.Equal(-1, db.Storage.LastBlock(file, before));
        Assert.Equal(0, vma.Span[0]); // the base shows again
    }

    [Fact]
    public async Task The_second_writer_of_a_block_gets_a_conflict_its_pages_are_discarded_and_it_stays_usable()
    {
        var (db, file) = await DatabaseWithFileAsync();
        var c1 = await db.OpenConnectionAsync();
        var c2 = await db.OpenConnectionAsync();
        var h1 = await c1.Root.Get<ZBigFile>("f").OpenAsync();
        var h2 = await c2.Root.Get<ZBigFile>("f").OpenAsync();
        Assert.NotSame(h1, h2);
        using var v1 = await h1.MmapAsync(0, Block / h1.PageSize);
        using var v2 = await h2.MmapAsync(0, Block / h2.PageSize);
        Fill(v1, 0, 10, 1);
        Fill(v2, 0, 10, 2);
        var winner = await c1.CommitAsync();

        var e = await Assert.ThrowsAsync<ConflictException>(() => c2.CommitAsync());
        Assert.Equal(file, e.Oid);
        Assert.Equal(0, e.Blk);
        Assert.False(h2.IsDirty);
        Assert.Equal(winner, c2.At);
        Assert.Equal(1, StoredBlock(db, file, 0, db.Storage.LastTid)[0]);

        Fill(v2, 0, 10, 3); // usable: writes again on top of the winner
        var t = await c2.CommitAsync();
        Assert.Equal(3, StoredBlock(db, file, 0, t)[0]);
    }

    [Fact]
    public async Task Writers_of_different_blocks_of_one_file_both_commit()
    {
        var (db, file) = await DatabaseWithFileAsync();
        var c1 = await db.OpenConnectionAsync();
        var c2 = await db.OpenConnectionAsync();
        var h1 = await c1.Root.Get<ZBigFile>("f").OpenAsync();
        var h2 = await c2.Root.Get<ZBigFile>("f").OpenAsync();
        using var v1 = await h1.MmapAsync(0, 2 * Block / h1.PageSize);
        using var v2 = await h2.MmapAsync(0, 2 * Block / h2.PageSize);
        Fill(v1, 0, 10, 1);
        Fill(v2, Block, 10, 2);
        await c1.CommitAsync();
        var t = await c2.CommitAsync();
        Assert.Equal(1, StoredBlock(db, file, 0, t)[0]);
        Assert.Equal(2, StoredBlock(db, file, 1, t)[0]);
    }

    [Fact]
    public async Task A_page_smaller_than_its_block_is_stored_over_the_block_as_of_the_connections_revision()
    {
        var (db, file) = await DatabaseWithFileAsync();
        var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        Assert.Equal(64 << 10, h.PageSize); // wcfs.client.page-size of this test: 4 pages per block
        using var vma = await h.MmapAsync(0, Block / h.PageSize);
        Fill(vma, 0, Block, 0xaa);
        await c.CommitAsync();
        await c.AbortAsync(); // classic zero base: clean pages read zeros again from here

        Fill(vma, h.PageSize, 16, 0xbb); // one page of the block
        var t = await c.CommitAsync();

        var stored = StoredBlock(db, file, 0, t);
        Assert.Equal(0xaa, stored[0]);
        Assert.Equal(0xbb, stored[h.PageSize]);
        Assert.Equal(0xaa, stored[h.PageSize + 16]);
        Assert.Equal(0xaa, stored[Block - 1]);
    }

    [Fact]
    public async Task Append_writes_the_appended_elements_and_a_shrinking_resize_zeroes_the_cut_tail()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var a = ZBigArray<int>.Create(c, [0], blockSize: Block);
        c.Root["a"] = a;
        await c.CommitAsync();
        var data = Enumerable.Range(1, 100_000).ToArray(); // 400 000 bytes: two blocks

        a.Append(data);
        Assert.Equal(100_000, a.Length);
        var t1 = await c.CommitAsync();
        var fileOid = a.File.Oid;
        var stored = StoredBlock(db, fileOid, 0, t1).Concat(StoredBlock(db, fileOid, 1, t1)).ToArray();
        Assert.Equal(data, MemoryMarshal.Cast<byte, int>(stored.AsSpan(0, 400_000)).ToArray());

        a.Resize([10]);
        var t2 = await c.CommitAsync();
        var after = MemoryMarshal.Cast<byte, int>(StoredBlock(db, fileOid, 0, t2).AsSpan()).ToArray();
        Assert.Equal(data[..10], after[..10]);
        Assert.True(after.AsSpan(10).IndexOfAnyExcept(0) < 0, "the cut tail of block 0 reads as zeros");
        Assert.True(StoredBlock(db, fileOid, 1, t2).AsSpan().IndexOfAnyExcept((byte)0) < 0, "block 1 was cut off: it reads as zeros");
    }

    [Fact]
    public async Task A_view_maps_the_arrays_pages_and_writes_through_it_are_committed()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var a = ZBigArray<double>.Create(c, [1000, 100], blockSize: Block);
        c.Root["a"] = a;
        await c.CommitAsync();

        using (var row = a.View(999))
        {
            Assert.Equal(100, row.Length);
            row.AsSpan().Fill(2.5);
        }
        var t = await c.CommitAsync();

        var offset = 999L * 100 * sizeof(double);
        var blk = offset / Block;
        var stored = MemoryMarshal.Cast<byte, double>(StoredBlock(db, a.File.Oid, blk, t).AsSpan((int)(offset % Block), 100 * sizeof(double)));
        Assert.All(stored.ToArray(), v => Assert.Equal(2.5, v));
    }

    [Fact]
    public async Task A_page_written_while_the_commit_runs_is_reported_and_stays_dirty_for_the_next_transaction()
    {
        var (db, file) = await DatabaseWithFileAsync();
        var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var vma = await h.MmapAsync(0, Block / h.PageSize);
        Fill(vma, 0, 16, 1);

        // Hold SQLite's write lock from another connection so that the commit parks after STORE.
        using var locker = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Dir.File("wcfs.db"));
        locker.Open();
        using (var begin = locker.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            begin.ExecuteNonQuery();
        }
        var commit = c.CommitAsync();
        var store = c.StoreOf(file)!;
        var deadline = DateTime.UtcNow + Support.TestTimeouts.Default;
        while (store.StoreCalls == 0 && DateTime.UtcNow < deadline)
            await Task.Delay(5); // why: STORE runs on the VirtmemActor; its end has no event to await
        Assert.True(store.StoreCalls > 0, "STORE did not run");
        vma.Span[0] = 2; // the usage error: a write while the commit runs
        using (var rollback = locker.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            rollback.ExecuteNonQuery();
        }

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => commit.WaitAsync(Support.TestTimeouts.Default));
        Assert.Contains("written during the commit", e.Message);
        var t1 = db.Storage.LastTid;
        Assert.Equal(t1, c.At);
        Assert.Equal(1, StoredBlock(db, file, 0, t1)[0]); // committed as of STORE
        Assert.True(h.IsPageDirty(0));                    // the racing write is not lost
        Assert.Equal(2, vma.Span[0]);

        var t2 = await c.CommitAsync();
        Assert.Equal(2, StoredBlock(db, file, 0, t2)[0]);
        Assert.False(h.IsDirty);
    }

    [Fact]
    public async Task A_database_hosted_in_the_users_actor_system_runs_its_virtmem_there_and_leaves_the_system_running()
    {
        var system = Akka.Actor.ActorSystem.Create("user-app", TestConfig); // plain: the runtime adds reference.conf
        try
        {
            var db = await Database.OpenAsync(Url, new DatabaseOptions { System = system, Sessions = ZeroBaseSessions.Instance });
            var c = await db.OpenConnectionAsync();
            var f = ZBigFile.Create(c, Block);
            c.Root["f"] = f;
            await c.CommitAsync();
            var h = await f.OpenAsync();
            using (var vma = await h.MmapAsync(0, 1))
            {
                vma.Span[0] = 9;
                var t = await c.CommitAsync();
                Assert.Equal(9, StoredBlock(db, f.Oid, 0, t)[0]);
            }
            var virtmem = await system.ActorSelection("/system/wcfs-virtmem-*").ResolveOne(Support.TestTimeouts.Default);
            Assert.Equal(system.Name, virtmem.Path.Address.System); // the virtmem actor lives in the user's system
            Assert.Same(system, db.Runtime.System);
            await db.DisposeAsync();
            Assert.False(system.WhenTerminated.IsCompleted);
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>Sessions whose base is virtmem's classic zero-fill file (not WCFS; see the header).</summary>
    private sealed class ZeroBaseSessions : IWcfsSessionFactory
    {
        public static readonly ZeroBaseSessions Instance = new();

        public Task<IWcfsSession> ConnectAsync(Tid at) => Task.FromResult<IWcfsSession>(new Session(at));

        private sealed class Session(Tid at) : IWcfsSession
        {
            public Tid At { get; private set; } = at;

            public Task ResyncAsync(Tid at)
            {
                At = at;
                return Task.CompletedTask;
            }

            public Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store) =>
                Task.FromResult(BigFile.Zero(blockSize, store));

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
