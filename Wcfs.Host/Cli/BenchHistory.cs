// BenchHistory - the `history` case of `wcfs bench` (issue 15): what history costs on disk.
//
//   1-byte commits  a 2 MiB block written once, then 20 commits that each change 1 byte (at a
//                   random place): growth of the SQLite database vs the same 20 versions kept as
//                   whole 2 MiB blobs (schema 1's layout) in a plain SQLite file, measured alike.
//   appends         commits that each append 1 KiB to an array's file (the writes a ZBigArray
//                   append commit makes: the whole last block, as its dirty page, plus the array
//                   object with its new shape): growth vs the bytes appended (goal: ≤ 3× + 1 MiB),
//                   at the default chunk size and at 4 KiB chunks.
//   pack            a database whose history is 10× its head (each block rewritten 10 times): pack
//                   at the last commit + Reclaim; bytes returned to the file system vs the history's
//                   bytes (IStorage.Usage).
// Sizes are of the database file after a WAL checkpoint (TRUNCATE), so the WAL does not count.
// --quick: 5 one-byte commits, 100 appends, a 4 MiB head.
using Microsoft.Data.Sqlite;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal sealed class BenchHistory : IBenchCase
{
    public string Name => "history";
    public string Description => "database growth per commit of small changes and appends, and what pack returns";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var results = new List<BenchResult>();
        var commits = ctx.Quick ? 5 : 20;
        var (ours, whole) = OneByteCommits(ctx.TempDir, commits);
        results.Add(new BenchResult(Name, $"growth, {commits} commits changing 1 byte of a 2 MiB block (vs whole blocks)", "MiB", ours, whole, HigherIsBetter: false));
        ct.ThrowIfCancellationRequested();

        var appends = ctx.Quick ? 100 : 1000;
        foreach (var chunk in new[] { BlockChunks.DefaultChunkSize, 4096 })
        {
            var (growth, data) = Appends(ctx.TempDir, appends, chunk);
            results.Add(new BenchResult(Name, $"growth, {appends} commits appending 1 KiB, {chunk >> 10} KiB chunks (vs 3x data + 1 MiB)", "MiB", growth, 3 * data + 1, HigherIsBetter: false));
            ct.ThrowIfCancellationRequested();
        }

        var (returned, history) = Pack(ctx.TempDir, ctx.Quick ? 2 : 8);
        results.Add(new BenchResult(Name, "pack of history 10x head: bytes returned vs history bytes", "MiB", returned, history, HigherIsBetter: true));
        return Task.FromResult<IReadOnlyList<BenchResult>>(results);
    }

    /// <summary>The database file's size with its WAL checkpointed into it, in MiB.</summary>
    internal static double SizeMiB(string path)
    {
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            BenchStorageCommit.Exec(c, "PRAGMA wal_checkpoint(TRUNCATE)");
        }
        return new FileInfo(path).Length / (double)(1 << 20);
    }

    private static (double Ours, double Whole) OneByteCommits(string dir, int commits)
    {
        var block = BenchData.Blocks(1)[0];
        var rnd = new Random(5);
        double ours;
        var (s, oid) = BenchData.NewFile(dir, "onebyte.db");
        using (s)
        {
            s.Commit(s.LastTid, [], [new BlockWrite(oid, 0, block)]);
            var before = SizeMiB(s.Path);
            for (var i = 0; i < commits; i++)
            {
                block[rnd.Next(block.Length - 1)] ^= 0x5a;
                s.Commit(s.LastTid, [], [new BlockWrite(oid, 0, block)]);
            }
            ours = SizeMiB(s.Path) - before;
        }

        var plain = Path.Combine(dir, "whole.db");
        double whole;
        using (var c = new SqliteConnection($"Data Source={plain};Pooling=False"))
        {
            c.Open();
            BenchStorageCommit.Exec(c, "PRAGMA page_size = 65536; PRAGMA journal_mode = WAL; CREATE TABLE b(id INTEGER PRIMARY KEY, data BLOB);");
            using var insert = c.CreateCommand();
            insert.CommandText = "INSERT INTO b(data) VALUES ($data)";
            var blob = insert.Parameters.Add("$data", SqliteType.Blob);
            blob.Value = block;
            insert.ExecuteNonQuery();
            var before = SizeMiB(plain);
            for (var i = 0; i < commits; i++)
            {
                block[rnd.Next(block.Length - 1)] ^= 0x5a;
                blob.Value = block;
                insert.ExecuteNonQuery();
            }
            whole = SizeMiB(plain) - before;
        }
        return (ours, whole);
    }

    private static (double Growth, double Data) Appends(string dir, int appends, int chunk)
    {
        const int piece = 1024;
        var path = Path.Combine(dir, $"appends-{chunk}.db");
        using var s = SqliteStorage.Open(path, new StorageOptions { ChunkSize = chunk });
        var file = s.NewOid();
        var array = s.NewOid();
        ZBigArrayState State(long bytes) => new([bytes / sizeof(double)], "<f8", ArrayOrder.C, file);
        s.Commit(s.LastTid, [new ObjectWrite(file, new ZBigFileState(BenchData.BlockSize)), new ObjectWrite(array, State(0))], []);
        var before = SizeMiB(path);
        var rnd = new Random(9);
        var block = new byte[BenchData.BlockSize];
        long size = 0;
        for (var i = 0; i < appends; i++)
        {
            var blk = size / BenchData.BlockSize;
            var off = (int)(size % BenchData.BlockSize);
            if (off == 0)
                Array.Clear(block);
            rnd.NextBytes(block.AsSpan(off, piece));
            block[off + piece - 1] |= 1;
            size += piece;
            s.Commit(s.LastTid, [new ObjectWrite(array, State(size))], [new BlockWrite(file, blk, block)]);
        }
        return (SizeMiB(path) - before, size / (double)(1 << 20));
    }

    private static (double Returned, double History) Pack(string dir, int headBlocks)
    {
        var data = BenchData.Blocks(11, seed: 3);
        var (s, oid) = BenchData.NewFile(dir, "pack.db");
        using (s)
        {
            for (var round = 0; round <= 10; round++)
                s.Commit(s.LastTid, [], [.. Enumerable.Range(0, headBlocks).Select(b => new BlockWrite(oid, b, data[(round + b) % data.Length]))]);
            var history = s.Usage().Sum(u => u.HistoryBytes) / (double)(1 << 20);
            var before = SizeMiB(s.Path);
            s.Pack(s.LastTid);
            s.Reclaim();
            return (before - SizeMiB(s.Path), history);
        }
    }
}
