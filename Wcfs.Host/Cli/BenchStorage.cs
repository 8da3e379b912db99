// BenchStorage - the storage cases of `wcfs bench` (issue 2 "Performance"):
//   commit     one Commit of 256 MiB in 2 MiB blocks (MB/s) vs raw INSERTs of the same blobs in one
//              transaction into a plain SQLite file (same pragmas: WAL, synchronous=FULL, 64 KiB
//              pages), so the ratio is our overhead over SQLite itself.
//   loadblock  random ReadBlock latency (p50/p99) on a 1 GiB database vs a raw SELECT of the same
//              block as one blob by rowid from a plain table in the same file (schema 1 kept whole
//              blocks like that: the cost of the chunked, versioned lookup and of our API), and vs
//              pread of the same bytes from a plain file (the cost of keeping blobs in SQLite).
// --quick: 16 MiB and 64 MiB.
using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

/// <summary>Deterministic incompressible block contents shared by the storage cases.</summary>
internal static class BenchData
{
    public const int BlockSize = 2 << 20;

    public static byte[][] Blocks(int distinct, int seed = 1)
    {
        var rnd = new Random(seed);
        var blocks = new byte[distinct][];
        for (var i = 0; i < distinct; i++)
        {
            blocks[i] = new byte[BlockSize];
            rnd.NextBytes(blocks[i]);
            blocks[i][^1] = 1; // no trailing zeros to trim
        }
        return blocks;
    }

    /// <summary>
    /// The chunk size of the bench databases: the default, or WCFS_BENCH_CHUNK_SIZE (bytes) to measure
    /// another choice.
    /// </summary>
    public static StorageOptions Options { get; } = new()
    {
        ChunkSize = int.TryParse(Environment.GetEnvironmentVariable("WCFS_BENCH_CHUNK_SIZE"), out var n) ? BlockChunks.Validate(n) : BlockChunks.DefaultChunkSize,
    };

    public static (SqliteStorage Storage, Oid File) NewFile(string dir, string name)
    {
        var s = SqliteStorage.Open(Path.Combine(dir, name), Options);
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(BlockSize))], []);
        return (s, oid);
    }
}

internal sealed class BenchStorageCommit : IBenchCase
{
    public string Name => "commit";
    public string Description => "commit of 256 MiB in 2 MiB blocks vs raw INSERT into plain SQLite";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var total = ctx.Quick ? 16 << 20 : 256 << 20;
        var n = total / BenchData.BlockSize;
        var data = BenchData.Blocks(8);
        // Alternate the two, each on a fresh file: median of 3 rounds (quick: 1), min–max shown.
        var rounds = ctx.Quick ? 1 : 3;
        var ours = new List<double>();
        var baseline = new List<double>();
        for (var round = 0; round < rounds; round++)
        {
            ct.ThrowIfCancellationRequested();
            ours.Add(Ours(ctx.TempDir, round, n, data));
            baseline.Add(Baseline(ctx.TempDir, round, n, data));
        }
        return Task.FromResult<IReadOnlyList<BenchResult>>([BenchResult.FromReps(Name, $"commit {total >> 20} MiB of new blocks", "MB/s", ours, baseline, higherIsBetter: true) with { Goal = 0.8 }]);
    }

    private static double Ours(string dir, int round, int n, byte[][] data)
    {
        var (s, oid) = BenchData.NewFile(dir, $"wcfs-{round}.db");
        double mbs;
        using (s)
        {
            var writes = Enumerable.Range(0, n).Select(i => new BlockWrite(oid, i, data[i % data.Length])).ToList();
            var sw = Stopwatch.StartNew();
            s.Commit(s.LastTid, [], writes);
            mbs = (double)n * BenchData.BlockSize / 1e6 / sw.Elapsed.TotalSeconds;
        }
        Delete(s.Path);
        return mbs;
    }

    private static double Baseline(string dir, int round, int n, byte[][] data)
    {
        var path = Path.Combine(dir, $"plain-{round}.db");
        double mbs;
        using (var raw = new RawBlobInserts(path))
        {
            var sw = Stopwatch.StartNew();
            raw.Begin();
            for (var i = 0; i < n; i++)
                raw.Insert(i, data[i % data.Length]);
            raw.Commit();
            mbs = (double)n * BenchData.BlockSize / 1e6 / sw.Elapsed.TotalSeconds;
        }
        Delete(path);
        return mbs;
    }

    private static void Delete(string path)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(path + suffix);
    }

    internal static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }
}

internal sealed class BenchStorageLoadBlock : IBenchCase
{
    public string Name => "loadblock";
    public string Description => "random ReadBlock of 2 MiB on a 1 GiB database vs raw SELECT of the same blob";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var total = ctx.Quick ? 64 << 20 : 1 << 30;
        var n = total / BenchData.BlockSize;
        var samples = ctx.Quick ? 200 : 1000;
        var data = BenchData.Blocks(8);
        var (s, oid) = BenchData.NewFile(ctx.TempDir, "wcfs.db");
        using (s)
        {
            // History: blocks written in commits of 32 blocks; reads are as of random tids.
            var tids = new List<Tid>();
            for (var first = 0; first < n; first += 32)
                tids.Add(s.Commit(s.LastTid, [], [.. Enumerable.Range(first, Math.Min(32, n - first)).Select(i => new BlockWrite(oid, i, data[i % data.Length]))]));
            s.CheckpointNow(); // settled: no background checkpoint under the timed reads

            using var raw = new SqliteConnection($"Data Source={s.Path};Pooling=False");
            raw.Open();
            BenchStorageCommit.Exec(raw, "CREATE TABLE whole(id INTEGER PRIMARY KEY, data BLOB)");
            using (var insert = raw.CreateCommand())
            {
                BenchStorageCommit.Exec(raw, "BEGIN");
                insert.CommandText = "INSERT INTO whole(id, data) VALUES ($id, $data)";
                var id = insert.Parameters.Add("$id", SqliteType.Integer);
                var blob = insert.Parameters.Add("$data", SqliteType.Blob);
                for (var i = 0; i < n; i++)
                {
                    id.Value = i;
                    blob.Value = data[i % data.Length];
                    insert.ExecuteNonQuery();
                }
                BenchStorageCommit.Exec(raw, "COMMIT");
            }
            var stmt = Prepare(raw, "SELECT data FROM whole WHERE rowid = ?1");
            // The same bytes in a plain file: what a data-files-beside-the-db layout would cost.
            var plainPath = Path.Combine(ctx.TempDir, "plain.bin");
            using (var w = File.Create(plainPath))
                for (var i = 0; i < n; i++)
                    w.Write(data[i % data.Length]);
            using var plain = File.OpenHandle(plainPath);

            var buf = new byte[BenchData.BlockSize];
            var rnd = new Random(7);
            var ours = new double[samples];
            var baseline = new double[samples];
            var file = new double[samples];
            for (var i = 0; i < samples; i++)
            {
                var blk = rnd.Next(n);
                var sw = Stopwatch.StartNew();
                if (s.ReadBlock(oid, blk, s.LastTid, buf) is null)
                    throw new InvalidOperationException($"block {blk} missing");
                ours[i] = sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                ReadRaw(stmt, blk, buf);
                baseline[i] = sw.Elapsed.TotalMilliseconds;
                sw.Restart();
                RandomAccess.Read(plain, buf, (long)blk * BenchData.BlockSize);
                file[i] = sw.Elapsed.TotalMilliseconds;
            }
            stmt.Dispose();
            Array.Sort(ours);
            Array.Sort(baseline);
            Array.Sort(file);
            return Task.FromResult<IReadOnlyList<BenchResult>>(
            [
                new BenchResult(Name, $"p50 2 MiB read, {total >> 20} MiB db (vs whole blob)", "ms", P(ours, 0.50), P(baseline, 0.50), HigherIsBetter: false),
                new BenchResult(Name, $"p99 2 MiB read, {total >> 20} MiB db (vs whole blob)", "ms", P(ours, 0.99), P(baseline, 0.99), HigherIsBetter: false),
                new BenchResult(Name, "p50 vs plain-file pread", "ms", P(ours, 0.50), P(file, 0.50), HigherIsBetter: false),
            ]);
        }
    }

    private static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];

    private static sqlite3_stmt Prepare(SqliteConnection c, string sql)
    {
        if (raw.sqlite3_prepare_v2(c.Handle, sql, out var stmt) != raw.SQLITE_OK)
            throw new InvalidOperationException(raw.sqlite3_errmsg(c.Handle).utf8_to_string());
        return stmt;
    }

    private static void ReadRaw(sqlite3_stmt stmt, long rowid, Span<byte> dest)
    {
        raw.sqlite3_bind_int64(stmt, 1, rowid);
        if (raw.sqlite3_step(stmt) != raw.SQLITE_ROW)
            throw new InvalidOperationException($"rowid {rowid} missing");
        raw.sqlite3_column_blob(stmt, 0).CopyTo(dest);
        raw.sqlite3_reset(stmt);
    }
}

/// <summary>
/// The raw-INSERT baseline of the commit case and the lmdb case's fill: a plain SQLite file with the
/// commit case's pragmas (64 KiB pages, WAL, synchronous=FULL) and one table of whole blobs by id.
/// </summary>
internal sealed class RawBlobInserts : IDisposable
{
    private readonly SqliteConnection _c;
    private readonly SqliteCommand _insert;
    private readonly SqliteParameter _id, _blob;

    public RawBlobInserts(string path)
    {
        _c = new SqliteConnection($"Data Source={path};Pooling=False");
        _c.Open();
        BenchStorageCommit.Exec(_c, "PRAGMA page_size = 65536; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB);");
        _insert = _c.CreateCommand();
        _insert.CommandText = "INSERT INTO b(id, data) VALUES ($id, $data)";
        _id = _insert.Parameters.Add("$id", SqliteType.Integer);
        _blob = _insert.Parameters.Add("$data", SqliteType.Blob);
    }

    public void Begin() => BenchStorageCommit.Exec(_c, "BEGIN IMMEDIATE");

    public void Commit() => BenchStorageCommit.Exec(_c, "COMMIT");

    public void Insert(long id, byte[] data)
    {
        _id.Value = id;
        _blob.Value = data;
        _insert.ExecuteNonQuery();
    }

    public void Dispose()
    {
        _insert.Dispose();
        _c.Dispose();
    }
}
