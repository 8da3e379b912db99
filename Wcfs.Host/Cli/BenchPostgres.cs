// BenchPostgres - the PostgreSQL cases of `wcfs bench` (issue 8 "Performance"); the baseline of
// each is the SQLite backend on the same machine, measured in the same run:
//   pg-commit     one Commit of 256 MiB in 2 MiB blocks (MB/s), also against a binary COPY of the same
//                 blocks as one bytea row each into a plain table, and commits/s of one 4 KiB block
//   pg-loadblock  random 2 MiB ReadBlock latency (p50/p99) on a 1 GiB database, as of the head, also
//                 against a plain SELECT of one 2 MiB bytea row (PostgreSQL's floor for a 2 MiB value)
//   pg-notify     commit on one storage → its change record on another storage instance (p50/p99)
//   pg-toast      2 MiB blocks stored EXTENDED with lz4 (ours) vs EXTERNAL (uncompressed) and vs
//                 EXTENDED pglz (PostgreSQL's default): commit MB/s, read p50 and table size, on
//                 incompressible and on compressible data
//   pg-commit-head Commit returned → head/at of a `wcfs serve` moved (p50/p99), on PostgreSQL vs
//                 on SQLite
// The server: WCFS_BENCH_POSTGRES_URL, a URL whose user may CREATE DATABASE; every case makes
// its own database and drops it. Without it the cases say so and report nothing.
// pg-commit and pg-loadblock: a warm-up round, then 3 rounds with PostgreSQL, SQLite and the plain
// table interleaved; medians with min–max. --quick: 16 MiB commits, 64 MiB database, fewer samples.
using System.Diagnostics;
using Npgsql;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

/// <summary>A throw-away database on the bench server.</summary>
internal sealed class BenchPostgresDatabase : IDisposable
{
    private static int _counter;
    private readonly string _server;
    private readonly string _name;

    private BenchPostgresDatabase(string server, string name, string url)
    {
        _server = server;
        _name = name;
        Url = url;
    }

    public string Url { get; }

    /// <summary>A fresh database, or null (logged) when WCFS_BENCH_POSTGRES_URL is unset.</summary>
    public static BenchPostgresDatabase? Create(BenchContext ctx, string caseName)
    {
        var server = Environment.GetEnvironmentVariable("WCFS_BENCH_POSTGRES_URL");
        if (string.IsNullOrWhiteSpace(server))
        {
            ctx.Log.WriteLine($"bench {caseName}: not run: set WCFS_BENCH_POSTGRES_URL=postgresql://user:pass@host:port/db (a user who may CREATE DATABASE)");
            return null;
        }
        var name = $"wcfs_bench_{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        Exec(server, $"CREATE DATABASE {name}");
        if (_counter == 1)
            ctx.Log.WriteLine($"bench: PostgreSQL {Scalar(server, "SHOW server_version")} at {PostgresUrl.Parse(server).Url}, " +
                $"fsync={Scalar(server, "SHOW fsync")}, synchronous_commit={Scalar(server, "SHOW synchronous_commit")}");
        var q = server.IndexOf('?');
        var head = q < 0 ? server : server[..q];
        var slash = head.IndexOf('/', head.IndexOf("://", StringComparison.Ordinal) + 3);
        return new BenchPostgresDatabase(server, name, (slash < 0 ? head : head[..slash]) + "/" + name + (q < 0 ? "" : server[q..]));
    }

    public static void Exec(string url, string sql)
    {
        var b = new NpgsqlConnectionStringBuilder(PostgresUrl.Parse(url).Settings.ConnectionString) { Pooling = false };
        using var conn = new NpgsqlConnection(b.ConnectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand(sql, conn);
        cmd.ExecuteNonQuery();
    }

    public static string Scalar(string url, string sql)
    {
        var b = new NpgsqlConnectionStringBuilder(PostgresUrl.Parse(url).Settings.ConnectionString) { Pooling = false };
        using var conn = new NpgsqlConnection(b.ConnectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand(sql, conn);
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    public void Dispose() => Exec(_server, $"DROP DATABASE IF EXISTS {_name} WITH (FORCE)");
}

internal static class BenchPostgresRun
{
    public static Oid NewFile(IStorage s, int blockSize = BenchData.BlockSize)
    {
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(blockSize))], []);
        return oid;
    }

    /// <summary>MB/s of one commit of <paramref name="total"/> bytes in 2 MiB blocks.</summary>
    public static double BigCommit(IStorage s, int total, byte[][] data)
    {
        var oid = NewFile(s);
        var writes = Enumerable.Range(0, total / BenchData.BlockSize).Select(i => new BlockWrite(oid, i, data[i % data.Length])).ToList();
        var sw = Stopwatch.StartNew();
        s.Commit(s.LastTid, [], writes);
        return total / 1e6 / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Commits per second of <paramref name="n"/> commits of one 4 KiB block each.</summary>
    public static double SmallCommits(IStorage s, int n)
    {
        var oid = NewFile(s, 4096);
        var block = new byte[4096];
        Random.Shared.NextBytes(block);
        block[^1] = 1;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
            s.Commit(s.LastTid, [], [new BlockWrite(oid, i % 64, block)]);
        return n / sw.Elapsed.TotalSeconds;
    }

    /// <summary>A new file of <paramref name="total"/> bytes in 2 MiB blocks, committed 32 blocks at a time; settled.</summary>
    public static Oid Fill(IStorage s, int total, byte[][] data)
    {
        var oid = NewFile(s);
        var n = total / BenchData.BlockSize;
        for (var first = 0; first < n; first += 32)
            s.Commit(s.LastTid, [], [.. Enumerable.Range(first, Math.Min(32, n - first)).Select(i => new BlockWrite(oid, i, data[i % data.Length]))]);
        (s as SqliteStorage)?.CheckpointNow(); // settled: no background checkpoint under the timed reads
        return oid;
    }

    /// <summary>Sorted latencies (ms) of random 2 MiB reads of <paramref name="oid"/> (<paramref name="total"/> bytes) as of the head.</summary>
    public static double[] RandomReads(IStorage s, Oid oid, int total, int samples, int seed = 7)
    {
        var n = total / BenchData.BlockSize;
        var buf = new byte[BenchData.BlockSize];
        var rnd = new Random(seed);
        var at = s.LastTid;
        for (var i = 0; i < 5; i++)
            s.ReadBlock(oid, rnd.Next(n), at, buf); // warm the connection and statement caches
        var ms = new double[samples];
        for (var i = 0; i < samples; i++)
        {
            var blk = rnd.Next(n);
            var sw = Stopwatch.StartNew();
            if (s.ReadBlock(oid, blk, at, buf) is null)
                throw new InvalidOperationException($"block {blk} missing");
            ms[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms;
    }

    /// <summary>Sorted latencies (ms) from Commit on <paramref name="writer"/> to the record on <paramref name="watcher"/>'s stream.</summary>
    public static async Task<double[]> CommitToChange(IStorage writer, IStorage watcher, int samples, CancellationToken ct)
    {
        var oid = NewFile(writer, 4096);
        var block = new byte[] { 1 };
        var ms = new double[samples];
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        await using var e = watcher.Changes(writer.LastTid, cts.Token).GetAsyncEnumerator(cts.Token);
        var next = e.MoveNextAsync().AsTask();
        await Task.Delay(200, ct); // why: let the stream reach its waiting state before the first sample
        for (var i = 0; i < samples; i++)
        {
            var sw = Stopwatch.StartNew();
            var tid = writer.Commit(writer.LastTid, [], [new BlockWrite(oid, 0, block)]);
            while (true)
            {
                if (!await next.WaitAsync(TimeSpan.FromSeconds(30), ct))
                    throw new InvalidOperationException("change stream ended");
                var got = e.Current.Tid;
                next = e.MoveNextAsync().AsTask();
                if (got == tid)
                    break;
            }
            ms[i] = sw.Elapsed.TotalMilliseconds;
        }
        await cts.CancelAsync();
        try { await next; } catch (OperationCanceledException) { /* the stream ends by cancellation */ }
        Array.Sort(ms);
        return ms;
    }

    public static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
}

internal sealed class BenchPostgresCommit : IBenchCase
{
    public string Name => "pg-commit";
    public string Description => "PostgreSQL commit throughput vs the SQLite backend and vs a raw COPY into PostgreSQL";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        using var db = BenchPostgresDatabase.Create(ctx, Name);
        if (db is null)
            return Task.FromResult<IReadOnlyList<BenchResult>>([]);
        var total = ctx.Quick ? 16 << 20 : 256 << 20;
        var small = ctx.Quick ? 100 : 1000;
        var data = BenchData.Blocks(8);
        List<double> pgBig = [], sqBig = [], rawBig = [], pgSmall = [], sqSmall = [];
        using var pg = PostgresStorage.Open(db.Url, storageOptions: BenchData.Options);
        using var sq = SqliteStorage.Open(Path.Combine(ctx.TempDir, "wcfs.db"), BenchData.Options);
        using var raw = new BenchPostgresRaw(db.Url);
        // A warm-up round (JIT, connections, statement caches), then 3 rounds, the three ways
        // interleaved so that a noisy moment of the machine hits all of them.
        BenchPostgresRun.BigCommit(pg, 8 << 20, data);
        BenchPostgresRun.BigCommit(sq, 8 << 20, data);
        raw.Copy(8 << 20, data);
        for (var rep = 0; rep < 3; rep++)
        {
            pgBig.Add(BenchPostgresRun.BigCommit(pg, total, data));
            sqBig.Add(BenchPostgresRun.BigCommit(sq, total, data));
            rawBig.Add(raw.Copy(total, data));
            sq.CheckpointNow(); // settled: the next round does not pay for this one's WAL
            pgSmall.Add(BenchPostgresRun.SmallCommits(pg, small));
            sqSmall.Add(BenchPostgresRun.SmallCommits(sq, small));
        }
        return Task.FromResult<IReadOnlyList<BenchResult>>(
        [
            BenchResult.FromReps(Name, $"commit {total >> 20} MiB (vs sqlite)", "MB/s", pgBig, sqBig, higherIsBetter: true) with { Goal = 0.5 },
            BenchResult.FromReps(Name, $"commit {total >> 20} MiB (vs raw COPY of the blocks into PostgreSQL)", "MB/s", pgBig, rawBig, higherIsBetter: true),
            BenchResult.FromReps(Name, "commits of one 4 KiB block (vs sqlite)", "commits/s", pgSmall, sqSmall, higherIsBetter: true),
        ]);
    }
}

internal sealed class BenchPostgresLoadBlock : IBenchCase
{
    public string Name => "pg-loadblock";
    public string Description => "PostgreSQL random 2 MiB ReadBlock latency vs the SQLite backend and vs a raw SELECT from PostgreSQL";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        using var db = BenchPostgresDatabase.Create(ctx, Name);
        if (db is null)
            return Task.FromResult<IReadOnlyList<BenchResult>>([]);
        var total = ctx.Quick ? 64 << 20 : 1 << 30;
        var samples = ctx.Quick ? 50 : 200;
        var data = BenchData.Blocks(8);
        using var pg = PostgresStorage.Open(db.Url, storageOptions: BenchData.Options);
        using var sq = SqliteStorage.Open(Path.Combine(ctx.TempDir, "wcfs.db"), BenchData.Options);
        using var raw = new BenchPostgresRaw(db.Url);
        var pgFile = BenchPostgresRun.Fill(pg, total, data);
        var sqFile = BenchPostgresRun.Fill(sq, total, data);
        raw.Copy(total, data);
        List<double> pg50 = [], sq50 = [], raw50 = [], pg99 = [], sq99 = [];
        for (var rep = 0; rep < 3; rep++) // interleaved rounds, as pg-commit
        {
            var p = BenchPostgresRun.RandomReads(pg, pgFile, total, samples, seed: rep);
            var s = BenchPostgresRun.RandomReads(sq, sqFile, total, samples, seed: rep);
            var r = raw.RandomReads(total, samples, seed: rep);
            pg50.Add(BenchPostgresRun.P(p, 0.5));
            sq50.Add(BenchPostgresRun.P(s, 0.5));
            raw50.Add(BenchPostgresRun.P(r, 0.5));
            pg99.Add(BenchPostgresRun.P(p, 0.99));
            sq99.Add(BenchPostgresRun.P(s, 0.99));
        }
        return Task.FromResult<IReadOnlyList<BenchResult>>(
        [
            BenchResult.FromReps(Name, $"p50 2 MiB read, {total >> 20} MiB db (vs sqlite)", "ms", pg50, sq50, higherIsBetter: false) with { Goal = 2 },
            BenchResult.FromReps(Name, $"p50 2 MiB read, {total >> 20} MiB db (vs raw SELECT of one 2 MiB bytea)", "ms", pg50, raw50, higherIsBetter: false),
            BenchResult.FromReps(Name, $"p99 2 MiB read, {total >> 20} MiB db (vs sqlite)", "ms", pg99, sq99, higherIsBetter: false),
        ]);
    }
}

/// <summary>
/// What a program that stores 2 MiB values in PostgreSQL directly gets on this server: the same
/// blocks as one bytea row each in a plain table (same TOAST settings as wcfs_chunks), written by
/// one binary COPY and read by a plain SELECT (for reads, the floor of any layout).
/// </summary>
internal sealed class BenchPostgresRaw : IDisposable
{
    private readonly NpgsqlConnection _conn;
    private int _next;

    public BenchPostgresRaw(string url)
    {
        var b = new NpgsqlConnectionStringBuilder(PostgresUrl.Parse(url).Settings.ConnectionString) { Pooling = false };
        _conn = new NpgsqlConnection(b.ConnectionString);
        _conn.Open();
        Exec("CREATE TABLE raw_blocks (blk int PRIMARY KEY, data bytea)");
        // The same TOAST settings as our chunks (PostgresSchema: lz4 where the server has it).
        var storage = Scalar("SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'wcfs_chunks'::regclass AND attname = 'data'");
        var compression = Scalar("SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'wcfs_chunks'::regclass AND attname = 'data'");
        Exec($"ALTER TABLE raw_blocks ALTER COLUMN data SET STORAGE {(storage == "e" ? "EXTERNAL" : "EXTENDED")}" +
             (compression == "l" ? ", ALTER COLUMN data SET COMPRESSION lz4" : ""));
    }

    /// <summary>MB/s of one transaction that COPYs <paramref name="total"/> bytes as new 2 MiB rows.</summary>
    public double Copy(int total, byte[][] data)
    {
        var sw = Stopwatch.StartNew();
        using (var tx = _conn.BeginTransaction())
        {
            using (var copy = _conn.BeginBinaryImport("COPY raw_blocks (blk, data) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < total / BenchData.BlockSize; i++)
                {
                    copy.StartRow();
                    copy.Write(_next++);
                    copy.Write(data[i % data.Length]);
                }
                copy.Complete();
            }
            tx.Commit();
        }
        return total / 1e6 / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Sorted latencies (ms) of random reads of the rows of the last <paramref name="total"/> bytes copied.</summary>
    public double[] RandomReads(int total, int samples, int seed)
    {
        var n = total / BenchData.BlockSize;
        var first = _next - n;
        var buf = new byte[BenchData.BlockSize];
        var rnd = new Random(seed);
        using var cmd = new NpgsqlCommand("SELECT data FROM raw_blocks WHERE blk = $1", _conn);
        var p = new NpgsqlParameter<int>();
        cmd.Parameters.Add(p);
        cmd.Prepare();
        var ms = new double[samples];
        for (var i = -5; i < samples; i++) // 5 warm-up reads
        {
            p.TypedValue = first + rnd.Next(n);
            var sw = Stopwatch.StartNew();
            using (var r = cmd.ExecuteReader(System.Data.CommandBehavior.SequentialAccess))
            {
                if (!r.Read())
                    throw new InvalidOperationException($"raw block {p.TypedValue} missing");
                using var s = r.GetStream(0);
                s.ReadExactly(buf.AsSpan(0, (int)s.Length));
            }
            if (i >= 0)
                ms[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms;
    }

    private string Scalar(string sql)
    {
        using var cmd = new NpgsqlCommand(sql, _conn);
        return Convert.ToString(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) ?? "";
    }

    private void Exec(string sql)
    {
        using var cmd = new NpgsqlCommand(sql, _conn);
        cmd.ExecuteNonQuery();
    }

    public void Dispose() => _conn.Dispose();
}

internal sealed class BenchPostgresNotify : IBenchCase
{
    public string Name => "pg-notify";
    public string Description => "commit → change record on another storage instance, PostgreSQL (LISTEN/NOTIFY) vs SQLite (polling)";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        using var db = BenchPostgresDatabase.Create(ctx, Name);
        if (db is null)
            return [];
        var samples = ctx.Quick ? 20 : 200;
        double[] pgMs, sqMs;
        using (var w = PostgresStorage.Open(db.Url))
        using (var r = PostgresStorage.Open(db.Url))
            pgMs = await BenchPostgresRun.CommitToChange(w, r, samples, ct);
        var path = Path.Combine(ctx.TempDir, "wcfs.db");
        using (var w = SqliteStorage.Open(path))
        using (var r = SqliteStorage.Open(path))
            sqMs = await BenchPostgresRun.CommitToChange(w, r, samples, ct);
        return
        [
            new BenchResult(Name, "p50 commit → other instance's stream (vs sqlite)", "ms", BenchPostgresRun.P(pgMs, 0.5), BenchPostgresRun.P(sqMs, 0.5), HigherIsBetter: false),
            new BenchResult(Name, "p99 commit → other instance's stream (vs sqlite)", "ms", BenchPostgresRun.P(pgMs, 0.99), BenchPostgresRun.P(sqMs, 0.99), HigherIsBetter: false),
        ];
    }
}

internal sealed class BenchPostgresToast : IBenchCase
{
    public string Name => "pg-toast";
    public string Description => "2 MiB blocks: EXTENDED lz4 (ours) vs EXTERNAL and vs EXTENDED pglz (PostgreSQL default)";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var total = ctx.Quick ? 16 << 20 : 32 << 20; // EXTENDED pglz stores compressible data at a few MB/s
        var samples = ctx.Quick ? 50 : 200;
        var results = new List<BenchResult>();
        foreach (var (kind, data) in new[] { ("random", BenchData.Blocks(8)), ("compressible", Compressible(8)) })
        {
            var ours = Measure(ctx, "EXTENDED", "lz4", total, samples, data);
            if (ours is null)
                return Task.FromResult<IReadOnlyList<BenchResult>>([]);
            foreach (var (storage, compression) in new[] { ("EXTERNAL", "pglz"), ("EXTENDED", "pglz") })
            {
                var b = Measure(ctx, storage, compression, total, samples, data)!.Value;
                var vs = storage == "EXTERNAL" ? "EXTERNAL" : "EXTENDED pglz";
                results.Add(new BenchResult(Name, $"commit {total >> 20} MiB {kind} (vs {vs})", "MB/s", ours.Value.Commit, b.Commit, HigherIsBetter: true));
                results.Add(new BenchResult(Name, $"p50 2 MiB read {kind} (vs {vs})", "ms", ours.Value.ReadP50, b.ReadP50, HigherIsBetter: false));
                results.Add(new BenchResult(Name, $"table size {kind} (vs {vs})", "MiB", ours.Value.SizeMiB, b.SizeMiB, HigherIsBetter: false));
            }
        }
        return Task.FromResult<IReadOnlyList<BenchResult>>(results);
    }

    private (double Commit, double ReadP50, double SizeMiB)? Measure(BenchContext ctx, string storage, string compression, int total, int samples, byte[][] data)
    {
        using var db = BenchPostgresDatabase.Create(ctx, Name);
        if (db is null)
            return null;
        using var s = PostgresStorage.Open(db.Url);
        BenchPostgresDatabase.Exec(db.Url, $"ALTER TABLE wcfs_chunks ALTER COLUMN data SET STORAGE {storage}, ALTER COLUMN data SET COMPRESSION {compression}");
        var commit = BenchPostgresRun.BigCommit(s, total, data);
        var reads = BenchPostgresRun.RandomReads(s, BenchPostgresRun.Fill(s, total, data), total, samples);
        var b = new NpgsqlConnectionStringBuilder(PostgresUrl.Parse(db.Url).Settings.ConnectionString) { Pooling = false };
        using var conn = new NpgsqlConnection(b.ConnectionString);
        conn.Open();
        using var cmd = new NpgsqlCommand("SELECT pg_total_relation_size('wcfs_chunks')", conn);
        var size = (long)cmd.ExecuteScalar()! / 1048576.0;
        return (commit, BenchPostgresRun.P(reads, 0.5), size);
    }

    /// <summary>Blocks like typical array data: small integers in 8-byte cells (compress about 4-8x).</summary>
    private static byte[][] Compressible(int distinct)
    {
        var rnd = new Random(3);
        var blocks = new byte[distinct][];
        for (var i = 0; i < distinct; i++)
        {
            blocks[i] = new byte[BenchData.BlockSize];
            for (var j = 0; j < blocks[i].Length; j += 8)
                BitConverter.TryWriteBytes(blocks[i].AsSpan(j), (long)rnd.Next(1000));
            blocks[i][^1] = 1;
        }
        return blocks;
    }
}

internal sealed class BenchPostgresCommitHead : IBenchCase
{
    public string Name => "pg-commit-head";
    public string Description => "Commit returned → head/at of a WCFS server moved, server on PostgreSQL vs on SQLite";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        using var db = BenchPostgresDatabase.Create(ctx, Name);
        if (db is null)
            return [];
        var n = ctx.Quick ? 10 : 50;
        var pg = await Measure(db.Url, Path.Combine(ctx.TempDir, "mnt-pg"), n, ct);
        var sq = await Measure("sqlite://" + Path.Combine(ctx.TempDir, "db.sqlite"), Path.Combine(ctx.TempDir, "mnt-sqlite"), n, ct);
        return
        [
            new BenchResult(Name, "p50 commit → head/at (vs sqlite)", "ms", BenchPostgresRun.P(pg, 0.5), BenchPostgresRun.P(sq, 0.5), HigherIsBetter: false),
            new BenchResult(Name, "p99 commit → head/at (vs sqlite)", "ms", BenchPostgresRun.P(pg, 0.99), BenchPostgresRun.P(sq, 0.99), HigherIsBetter: false),
        ];
    }

    private static async Task<double[]> Measure(string url, string mnt, int n, CancellationToken ct)
    {
        using var s = StorageFactory.Open(url);
        var oid = BenchPostgresRun.NewFile(s, 4096);
        await using var server = await BenchServer.StartAsync(url, mnt);
        var atPath = Path.Combine(server.Mountpoint, "head", "at");
        var ms = new double[n];
        for (var i = 0; i < n; i++)
        {
            ct.ThrowIfCancellationRequested();
            var tid = s.Commit(s.LastTid, [], [new BlockWrite(oid, i % 8, new byte[] { (byte)(i + 1) })]);
            var t0 = Stopwatch.GetTimestamp();
            var want = tid.ToString();
            while (File.ReadAllText(atPath) != want)
            {
                if (Stopwatch.GetElapsedTime(t0) > TimeSpan.FromSeconds(30))
                    throw new InvalidOperationException($"head/at of {mnt} did not reach {want} in 30 s");
            }
            ms[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(ms);
        return ms;
    }
}
