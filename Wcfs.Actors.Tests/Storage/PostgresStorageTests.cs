// PostgresStorageTests - what the PostgreSQL backend adds to the conformance suite: several
// writers on one database, tids from the database clock, push delivery of change records, URLs.
using System.Collections.Concurrent;
using System.Text;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

[Collection("postgres")]
public sealed class PostgresStorageTests(PostgresFixture pg)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10) * PostgresTestHelpers.TimeoutFactor;

    [Fact]
    public void Blocks_read_as_of_each_commit_show_that_commits_data()
    {
        using var s = PostgresStorage.Open(pg.NewDatabase());
        var file = s.NewFile();
        var at1 = s.CommitBlocks(Tid.Zero, file, (2, "c1"));
        var at2 = s.CommitBlocks(at1, file, (2, "c2"), (5, "x"));
        Assert.Equal("c1", s.ReadText(file, 2, at1));
        Assert.Equal("c2", s.ReadText(file, 2, at2));
        Assert.Equal("", s.ReadText(file, 5, at1));
        Assert.Equal(at2, s.BlockRevAt(file, 2, Tid.Max));
        Assert.Equal(5, s.LastBlock(file, at2));
        Assert.Equal(2, s.LastBlock(file, at1));
    }

    [Fact]
    public void Tids_of_two_storages_committing_concurrently_are_distinct_and_follow_commit_order()
    {
        var url = pg.NewDatabase();
        using var a = PostgresStorage.Open(url);
        using var b = PostgresStorage.Open(url);
        var fa = a.NewFile();
        var fb = b.NewFile();
        var tids = new ConcurrentBag<Tid>();
        Parallel.For(0, 40, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var (s, f) = i % 2 == 0 ? (a, fa) : (b, fb);
            tids.Add(s.CommitBlocks(s.LastTid, f, (i, $"v{i}")));
        });
        Assert.Equal(40, tids.Distinct().Count());
        var history = PostgresTestHelpers.ReadChanges(a, Tid.Zero, 42, Timeout);
        Assert.Equal(history.Select(r => r.Tid).Order(), history.Select(r => r.Tid));
        Assert.Equal(history.Count, history.Select(r => r.Tid).Distinct().Count());
        Assert.Subset(history.Select(r => r.Tid).ToHashSet(), tids.ToHashSet());
    }

    [Fact]
    public void Second_writer_of_a_block_gets_ConflictException_naming_it_and_writes_nothing()
    {
        var url = pg.NewDatabase();
        using var a = PostgresStorage.Open(url);
        using var b = PostgresStorage.Open(url);
        var file = a.NewFile();
        var at0 = a.LastTid;
        var at1 = a.CommitBlocks(at0, file, (3, "a"));
        var e = Assert.Throws<ConflictException>(() => b.CommitBlocks(at0, file, (1, "b1"), (3, "b")));
        Assert.Equal(file, e.Oid);
        Assert.Equal(3, e.Blk);
        Assert.Equal(at1, e.NewerTid);
        Assert.Equal(at1, b.LastTid);
        Assert.Null(b.BlockRevAt(file, 1, Tid.Max));
        Assert.Equal("a", b.ReadText(file, 3, Tid.Max));
    }

    [Fact]
    public void Second_writer_of_an_object_gets_ConflictException()
    {
        var url = pg.NewDatabase();
        using var a = PostgresStorage.Open(url);
        using var b = PostgresStorage.Open(url);
        var at0 = a.LastTid;
        a.Commit(at0, [new ObjectWrite(Oid.Root, RootState.Empty)], []);
        var e = Assert.Throws<ConflictException>(() => b.Commit(at0, [new ObjectWrite(Oid.Root, RootState.Empty)], []));
        Assert.Equal(Oid.Root, e.Oid);
        Assert.Null(e.Blk);
    }

    [Fact]
    public void A_tid_is_the_commit_time_in_nanoseconds_by_the_database_clock()
    {
        using var s = PostgresStorage.Open(pg.NewDatabase());
        var before = DateTime.UtcNow;
        var tid = s.CommitBlocks(Tid.Zero, s.NewFile(), (0, "t"));
        var after = DateTime.UtcNow;
        var time = DateTime.UnixEpoch.AddTicks((long)(tid.Value / 100));
        // Loopback: the database clock is this machine's clock.
        Assert.InRange(time, before.AddSeconds(-1), after.AddSeconds(1));
    }

    [Fact]
    public void Tids_stay_increasing_when_the_last_tid_is_ahead_of_the_clock()
    {
        var url = pg.NewDatabase();
        using var s = PostgresStorage.Open(url);
        var file = s.NewFile();
        var future = (ulong)(DateTime.UtcNow.AddDays(1) - DateTime.UnixEpoch).Ticks * 100;
        PostgresFixture.Execute(url, $"UPDATE wcfs_head SET last_tid = {future}");
        var t1 = s.CommitBlocks(new Tid(future), file, (0, "a"));
        var t2 = s.CommitBlocks(t1, file, (0, "b"));
        Assert.Equal(future + 1, t1.Value);
        Assert.Equal(future + 2, t2.Value);
    }

    [Fact]
    public void Trailing_zeros_are_not_stored_and_an_all_zero_block_reads_as_a_hole_with_its_serial()
    {
        var url = pg.NewDatabase();
        using var s = PostgresStorage.Open(url);
        var file = s.NewFile();
        var data = new byte[4096];
        data[10] = 7;
        var at1 = s.Commit(s.LastTid, [], [new BlockWrite(file, 0, data), new BlockWrite(file, 1, new byte[4096])]);
        Assert.Equal(11, PostgresFixture.Scalar(url, "SELECT length(data) FROM wcfs_chunks WHERE blk = 0"));
        Assert.Equal(0L, PostgresFixture.Scalar(url, "SELECT count(*) FROM wcfs_chunks WHERE blk = 1")); // a new all-zero block stores no chunk
        Assert.Equal(1L, PostgresFixture.Scalar(url, "SELECT count(*) FROM wcfs_blocks WHERE blk = 1"));
        var dest = new byte[4096];
        Array.Fill(dest, (byte)0xff);
        Assert.Equal(at1, s.ReadBlock(file, 1, Tid.Max, dest));
        Assert.All(dest, b => Assert.Equal(0, b));
        Assert.Equal(at1, s.ReadBlock(file, 0, Tid.Max, dest));
        Assert.Equal(data, dest);
    }

    [Fact]
    public async Task A_change_stream_gets_another_storages_commit_by_notification_without_polling()
    {
        var url = pg.NewDatabase();
        var noPolling = new PostgresStorageOptions { PollInterval = TimeSpan.FromHours(1) };
        using var watcher = PostgresStorage.Open(url, noPolling);
        using var writer = PostgresStorage.Open(url);
        var file = writer.NewFile();
        var start = writer.LastTid;
        using var cts = new CancellationTokenSource(Timeout);
        var e = watcher.Changes(start, cts.Token).GetAsyncEnumerator(cts.Token);
        var first = e.MoveNextAsync().AsTask(); // the stream is listening once it has queried once
        PostgresTestHelpers.WaitUntil(() => PostgresTestHelpers.IdleListeners(url) > 0, Timeout, "the watcher to LISTEN and wait");
        var tid = writer.CommitBlocks(start, file, (4, "n"), (1, "m"));
        var done = await Task.WhenAny(first, Task.Delay(Timeout)); // why: the bound of the wait for the notification
        Assert.True(done == first, "no change record within the timeout: NOTIFY was not delivered");
        Assert.True(await first);
        Assert.Equal(tid, e.Current.Tid);
        Assert.Equal([1L, 4L], e.Current.Blocks[file]);
        Assert.Empty(e.Current.Objects);
        await cts.CancelAsync();
        await e.DisposeAsync();
    }

    [Fact]
    public async Task A_change_stream_whose_connection_is_killed_repeatedly_misses_no_commit()
    {
        var url = pg.NewDatabase();
        var noPolling = new PostgresStorageOptions { PollInterval = TimeSpan.FromHours(1) };
        using var watcher = PostgresStorage.Open(url, noPolling);
        using var writer = PostgresStorage.Open(url);
        var file = writer.NewFile();
        var start = writer.LastTid;
        var reader = Task.Run(() => PostgresTestHelpers.ReadChanges(watcher, start, 20, Timeout * 3));
        var committed = new List<Tid>();
        for (var i = 0; i < 20; i++)
        {
            if (i % 4 == 0)
            {
                // the stream has (re)connected since the last kill: kill that connection
                PostgresTestHelpers.WaitUntil(() => PostgresTestHelpers.Listeners(url) > 0, Timeout, $"the change stream to reconnect before kill {i / 4 + 1}");
                Assert.True(PostgresTestHelpers.KillListeners(url) > 0, $"kill {i / 4 + 1}: no change-stream connection was terminated");
            }
            committed.Add(writer.CommitBlocks(writer.LastTid, file, (i % 3, $"v{i}")));
        }
        Assert.Equal(committed, (await reader).Select(r => r.Tid));
    }

    [Fact]
    public void A_change_stream_from_an_old_tid_replays_history_in_order()
    {
        using var s = PostgresStorage.Open(pg.NewDatabase());
        var file = s.NewFile();
        var t1 = s.CommitBlocks(s.LastTid, file, (0, "a"));
        var t2 = s.CommitBlocks(t1, file, (1, "b"));
        var records = PostgresTestHelpers.ReadChanges(s, t1, 1, Timeout);
        Assert.Equal([t2], records.Select(r => r.Tid));
        Assert.Equal([1L], records[0].Blocks[file]);
    }

    [Fact]
    public void Block_data_is_toasted_with_lz4_when_the_server_has_it()
    {
        var url = pg.NewDatabase();
        using var s = PostgresStorage.Open(url);
        var lz4 = (bool)PostgresFixture.Scalar(url, "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")!;
        var (storage, compression) = ((char)PostgresFixture.Scalar(url, "SELECT attstorage FROM pg_attribute WHERE attrelid = 'wcfs_chunks'::regclass AND attname = 'data'")!,
            (char)PostgresFixture.Scalar(url, "SELECT attcompression FROM pg_attribute WHERE attrelid = 'wcfs_chunks'::regclass AND attname = 'data'")!);
        Assert.Equal(lz4 ? ('x', 'l') : ('e', '\0'), (storage, compression));
        Assert.True(lz4, "Debian's PostgreSQL is built with lz4; this server is not (the fallback is EXTERNAL)");
    }

    [Fact]
    public void Pack_drops_versions_no_reader_at_or_after_the_cut_can_see()
    {
        var url = pg.NewDatabase();
        using var s = PostgresStorage.Open(url);
        var file = s.NewFile();
        var t1 = s.CommitBlocks(s.LastTid, file, (0, "a"));
        var t2 = s.CommitBlocks(t1, file, (0, "b"));
        var t3 = s.CommitBlocks(t2, file, (0, "c"));
        s.Pack(t2);
        Assert.Equal(2L, PostgresFixture.Scalar(url, "SELECT count(*) FROM wcfs_blocks"));
        Assert.Equal(2L, PostgresFixture.Scalar(url, "SELECT count(*) FROM wcfs_chunks"));
        Assert.Equal("b", s.ReadText(file, 0, t2));
        Assert.Equal("c", s.ReadText(file, 0, t3));
    }

    [Theory]
    [InlineData("postgresql://alice:pa%40ss@db.example:6000/big", "postgresql://alice@db.example:6000/big", "alice", "pa@ss", "db.example", 6000, "big")]
    [InlineData("postgres://bob@10.0.0.1/data?sslmode=disable", "postgresql://bob@10.0.0.1:5432/data?sslmode=disable", "bob", null, "10.0.0.1", 5432, "data")]
    [InlineData("postgresql://u:p@[::1]:7/d", "postgresql://u@[::1]:7/d", "u", "p", "::1", 7, "d")]
    [InlineData("postgresql://u@localhost/d?host=/run/pg", "postgresql://u@%2Frun%2Fpg:5432/d", "u", null, "/run/pg", 5432, "d")]
    public void A_URL_is_parsed_into_settings_and_redacted_without_its_password(
        string url, string redacted, string user, string? password, string host, int port, string db)
    {
        var p = PostgresUrl.Parse(url);
        Assert.Equal(redacted, p.Url);
        Assert.Equal(user, p.Settings.Username);
        Assert.Equal(password, p.Settings.Password);
        Assert.Equal(host, p.Settings.Host);
        Assert.Equal(port, p.Settings.Port);
        Assert.Equal(db, p.Settings.Database);
    }

    [Fact]
    public void A_PostgreSQL_URL_with_a_password_normalizes_to_the_storage_URL_and_the_mountpoint_of_the_URL_without_it()
    {
        var url = pg.NewDatabase();
        var withPassword = url.Replace("postgres@", "postgres:any-pw@", StringComparison.Ordinal);
        using var s = PostgresStorage.Open(withPassword); // trust auth: the password is not checked
        // .wcfs/zurl shows s.Url; a client compares it with the normalized URL it was given.
        Assert.Equal(s.Url, Wcfs.Actors.Protocol.MountPoint.NormalizeUrl(withPassword));
        Assert.Equal(Wcfs.Actors.Protocol.MountPoint.For(url, "/m"), Wcfs.Actors.Protocol.MountPoint.For(withPassword, "/m"));
        Assert.DoesNotContain("any-pw", Wcfs.Actors.Protocol.MountPoint.NormalizeUrl(withPassword), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("postgresql://u:secret@h:5/", "one database")]
    [InlineData("postgresql://u:secret@h:5/a/b", "one database")]
    [InlineData("postgresql://u:secret@h:5/d?bogus_key=1", "bogus_key")]
    [InlineData("postgresql://u:secret@h:5/d?password=secret", "password")]
    [InlineData("sqlite:///x", "not a PostgreSQL URL")]
    public void A_bad_URL_is_refused_with_a_message_naming_it_without_the_password(string url, string cause)
    {
        var e = Assert.Throws<StorageException>(() => PostgresUrl.Parse(url));
        Assert.Contains(cause, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", e.Message, StringComparison.Ordinal);
    }
}

/// <summary>Domain helpers of the PostgreSQL tests: "commit blocks {2: "c1"} → at1", "read block 2".</summary>
internal static class PostgresTestHelpers
{
    public const int BlockSize = 4096;

    /// <summary>One factor scaling every timeout (WCFS_TEST_TIMEOUT_FACTOR for slow machines).</summary>
    public static double TimeoutFactor =>
        double.TryParse(Environment.GetEnvironmentVariable("WCFS_TEST_TIMEOUT_FACTOR"), System.Globalization.CultureInfo.InvariantCulture, out var f) && f > 0 ? f : 1;

    /// <summary>Allocates a file and commits its object (block size 4 KiB).</summary>
    public static Oid NewFile(this IStorage s)
    {
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(BlockSize))], []);
        return oid;
    }

    public static Tid CommitBlocks(this IStorage s, Tid baseAt, Oid file, params (long Blk, string Text)[] blocks) =>
        s.Commit(baseAt, [], [.. blocks.Select(b => new BlockWrite(file, b.Blk, Encoding.UTF8.GetBytes(b.Text)))]);

    public static string ReadText(this IStorage s, Oid file, long blk, Tid at)
    {
        var dest = new byte[BlockSize];
        s.ReadBlock(file, blk, at, dest);
        return Encoding.UTF8.GetString(dest).TrimEnd('\0');
    }

    /// <summary>The first <paramref name="count"/> change records after <paramref name="after"/>.</summary>
    public static List<ChangeRecord> ReadChanges(IStorage s, Tid after, int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var list = new List<ChangeRecord>();
        var task = Task.Run(async () =>
        {
            await foreach (var r in s.Changes(after, cts.Token))
            {
                list.Add(r);
                if (list.Count == count)
                    break;
            }
        });
        try
        {
            task.Wait();
        }
        catch (AggregateException e) when (e.InnerException is OperationCanceledException)
        {
            Assert.Fail($"only {list.Count} of {count} change records after {after} arrived within {timeout}");
        }
        return list;
    }

    /// <summary>The number of change-stream sessions that queried once and now wait for notifications.</summary>
    public static long IdleListeners(string url) => (long)PostgresFixture.Scalar(url,
        $"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{PostgresStorage.ListenerApplicationName}' " +
        "AND state = 'idle' AND query LIKE '%wcfs_commits%'")!;

    /// <summary>The number of change-stream sessions on the database of <paramref name="url"/>.</summary>
    public static long Listeners(string url) => (long)PostgresFixture.Scalar(url,
        $"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = '{PostgresStorage.ListenerApplicationName}'")!;

    /// <summary>Terminates the change-stream sessions on the database of <paramref name="url"/>: how many were terminated.</summary>
    public static long KillListeners(string url) => (long)PostgresFixture.Scalar(url,
        // CASE: the terminate runs only on the rows the filter kept (AND does not order its operands)
        $"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() " +
        $"AND CASE WHEN application_name = '{PostgresStorage.ListenerApplicationName}' THEN pg_terminate_backend(pid, 5000) ELSE false END")!;

    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var until = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until)
                Assert.Fail($"timed out after {timeout} waiting for {what}");
            Thread.Sleep(20); // why: polling a condition in another process (pg_stat_activity) has no event to wait on
        }
    }
}
