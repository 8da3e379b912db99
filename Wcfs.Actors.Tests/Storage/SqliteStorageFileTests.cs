// SQLite-specific behavior: what is refused at open (and left byte-for-byte untouched), and the
// layout choices that the conformance suite cannot see.
using Microsoft.Data.Sqlite;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

public sealed class SqliteStorageFileTests : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-sqlite-file");

    public void Dispose() => _dir.Dispose();

    private string MakeWcfsDatabase(string name = "wcfs.db")
    {
        var path = _dir.File(name);
        using (var s = SqliteStorage.Open(path))
        {
            var f = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
            s.Commit(s.LastTid, [], [new BlockWrite(f, 0, new byte[] { 1, 2, 3 })]);
        }
        SqliteConnection.ClearAllPools();
        return path;
    }

    [Fact]
    public void A_connection_keeps_at_most_8_MiB_of_pages_after_a_large_commit()
    {
        // The page cache was once set in the KiB form before the page size was known and held
        // ~2000 pages of 64 KiB per connection: every large commit faulted in up to 125 MiB.
        using var s = SqliteStorage.Open(_dir.File("cache.db"));
        var f = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(2 << 20))], []);
        var rnd = new Random(7);
        var blocks = Enumerable.Range(0, 32).Select(b =>
        {
            var data = new byte[2 << 20];
            rnd.NextBytes(data);
            return new BlockWrite(f, b, data);
        }).ToList();
        s.Commit(s.LastTid, [], blocks); // 64 MiB of new pages through one connection
        Assert.InRange(s.IdlePageCacheBytes(), 1L << 20, 12L << 20);
    }

    [Fact]
    public async Task Checkpoints_run_off_the_commit_path_once_a_commit_passes_the_mark()
    {
        using var s = SqliteStorage.Open(_dir.File("ckpt.db"));
        var f = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(2 << 20))], []);
        var small = new byte[4096];
        small[0] = 1;
        s.Commit(s.LastTid, [], [new BlockWrite(f, 0, small)]);
        Assert.False(s.CheckpointerStarted); // below the mark: no thread at all
        var next = s.NextCheckpoint;
        var rnd = new Random(5);
        var blocks = Enumerable.Range(1, (int)(SqliteStorage.CheckpointBytes >> 21) + 1).Select(b =>
        {
            var data = new byte[2 << 20];
            rnd.NextBytes(data);
            return new BlockWrite(f, b, data);
        }).ToList();
        var walBefore = new FileInfo(s.Path + "-wal").Length;
        s.Commit(s.LastTid, [], blocks); // past the mark: wakes the checkpointer and returns
        Assert.True(new FileInfo(s.Path + "-wal").Length > walBefore, "the commit went to the WAL");
        await next.WaitAsync(TestTimeouts.Default);
        Assert.True(s.CheckpointerStarted);
        Assert.Equal(1, s.CheckpointsRun);
        // The frames are in the database file now: a reader of the file alone (no WAL) sees them.
        var buf = new byte[2 << 20];
        Assert.NotNull(s.ReadBlock(f, 1, s.LastTid, buf));
        Assert.Equal(blocks[0].Data!.Value.ToArray(), buf);
        Assert.True(new FileInfo(s.Path).Length >= (long)blocks.Count << 21, "the checkpoint copied the blocks into the database file");
    }

    /// <summary>Opening must fail naming <paramref name="expected"/> and leave the file's bytes unchanged.</summary>
    private static void AssertRefusedAndUnchanged(string path, string expected)
    {
        var before = File.ReadAllBytes(path);
        var e = Assert.Throws<StorageException>(() => StorageFactory.Open("sqlite://" + path).Dispose());
        Assert.Contains(expected, e.Message);
        Assert.Contains(path, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal(before, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_file_that_is_not_SQLite_is_refused_and_left_untouched()
    {
        var path = _dir.File("text.db");
        File.WriteAllText(path, "just some text, certainly not a database\n");
        AssertRefusedAndUnchanged(path, "not a SQLite database");
    }

    [Fact]
    public void A_foreign_SQLite_database_is_refused_and_left_untouched()
    {
        var path = _dir.File("foreign.db");
        SqliteFile.Exec(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x');");
        AssertRefusedAndUnchanged(path, "not a wcfs database");
    }

    [Fact]
    public void A_database_with_a_newer_schema_is_refused_and_left_untouched()
    {
        var path = MakeWcfsDatabase();
        SqliteFile.Exec(path, "PRAGMA user_version = 4");
        AssertRefusedAndUnchanged(path, "newer than this wcfs supports");
    }

    [Fact]
    public void A_corrupt_database_is_refused_and_left_untouched()
    {
        var path = MakeWcfsDatabase();
        var bytes = File.ReadAllBytes(path);
        // Keep the 100-byte file header (so it still looks like our SQLite file) and smash the
        // schema b-tree page that follows it.
        new Random(3).NextBytes(bytes.AsSpan(100, 4000));
        File.WriteAllBytes(path, bytes);
        AssertRefusedAndUnchanged(path, "corrupt");
    }

    [Fact]
    public void A_directory_in_place_of_the_database_is_refused()
    {
        var e = Assert.Throws<StorageException>(() => StorageFactory.Open(_dir.Path).Dispose());
        Assert.Contains("is a directory", e.Message);
    }

    [Fact]
    public void An_empty_file_becomes_a_new_database_and_reopens_with_its_data()
    {
        var path = _dir.File("empty.db");
        File.WriteAllBytes(path, []);
        Oid f;
        using (var s = StorageFactory.Open(path))
        {
            f = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
        }
        using var again = StorageFactory.Open(path);
        Assert.Equal(new ZBigFileState(4096), again.LoadObject(f, Tid.Max)!.State);
    }

    [Fact]
    public void A_new_database_uses_WAL_64KiB_pages_and_records_its_schema()
    {
        var path = MakeWcfsDatabase();
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        Assert.Equal("wal", Scalar(c, "PRAGMA journal_mode"));
        Assert.Equal(65536L, Scalar(c, "PRAGMA page_size"));
        Assert.Equal(0x57434653L, Scalar(c, "PRAGMA application_id"));
        Assert.Equal(3L, Scalar(c, "PRAGMA user_version"));
        Assert.Equal("wcfs-actors storage", Scalar(c, "SELECT value FROM meta WHERE key = 'magic'"));
        Assert.Equal(65536L, Scalar(c, "SELECT value FROM meta WHERE key = 'chunk_size'"));
    }

    [Fact]
    public void All_zero_blocks_are_stored_as_holes_and_trailing_zeros_are_not_stored()
    {
        var path = _dir.File("layout.db");
        using (var s = SqliteStorage.Open(path))
        {
            var f = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
            var data = new byte[4096];
            data[9] = 7;
            s.Commit(s.LastTid, [], [new BlockWrite(f, 0, new byte[4096]), new BlockWrite(f, 1, data)]);
        }
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        Assert.Equal(0L, Scalar(c, "SELECT count(*) FROM chunk WHERE blk = 0")); // a new all-zero block stores no chunk
        Assert.Equal(1L, Scalar(c, "SELECT count(*) FROM block WHERE blk = 0"));
        Assert.Equal(10L, Scalar(c, "SELECT length(data) FROM chunk WHERE blk = 1"));
    }

    [Fact]
    public void Reading_a_block_is_one_statement_with_one_indexed_lookup_per_chunk()
    {
        var path = MakeWcfsDatabase();
        using var c = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "EXPLAIN QUERY PLAN " + SqliteStorage.ReadBlockSql;
        cmd.Parameters.AddWithValue("?1", 1L);
        using var r = cmd.ExecuteReader();
        var plan = new List<string>();
        while (r.Read())
            plan.Add(r.GetString(3));
        // Every access to block and chunk is a SEARCH by the leading key columns; none is a SCAN.
        Assert.Contains(plan, p => p.Contains("SEARCH block USING PRIMARY KEY (oid=? AND blk=? AND tid<?)"));
        Assert.Contains(plan, p => p.Contains("SEARCH chunk USING COVERING INDEX chunk_version (oid=? AND blk=? AND chunk=? AND tid<?)"));
        Assert.Contains(plan, p => p.Contains("SEARCH c USING INTEGER PRIMARY KEY (rowid=?)"));
        Assert.DoesNotContain(plan, p => p.StartsWith("SCAN block", StringComparison.Ordinal) || p.StartsWith("SCAN c", StringComparison.Ordinal) || p.StartsWith("SCAN chunk", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_commit_by_another_storage_instance_wakes_a_change_stream_without_polling()
    {
        var path = MakeWcfsDatabase();
        using var listener = SqliteStorage.Open(path);
        listener.SafetyPoll = TimeSpan.FromHours(1); // only the notification file's inotify event can wake it in time
        using var writer = SqliteStorage.Open(path); // another instance: its in-process signal does not reach the listener
        using var cts = new CancellationTokenSource();
        await using var stream = listener.Changes(listener.LastTid, cts.Token).GetAsyncEnumerator(cts.Token);
        var next = stream.MoveNextAsync().AsTask();
        var f = writer.NewOid();
        var tid = writer.Commit(writer.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
        var limit = Wcfs.Actors.Tests.Server.ServerProcess.Scaled(30);
        Assert.Same(next, await Task.WhenAny(next, Task.Delay(limit))); // why: a bound on waiting for the change event, not a sleep
        Assert.True(await next);
        Assert.Equal(tid, stream.Current.Tid);
        await cts.CancelAsync();
    }

    private static object? Scalar(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }
}
