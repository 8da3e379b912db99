// Chunk deltas of the SQLite layout (ChunkDeltas.cs): the writer's rules, every version reading
// back through chains under random edits, the rows an append workload leaves and pack keeps, and
// corrupt chains refused with one line. (Appends on both backends: StorageConformanceTests.)
using Microsoft.Data.Sqlite;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

public sealed class ChunkDeltaTests : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-deltas");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _dir.Dispose();
    }

    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        for (var i = 0; i < n; i++)
            b[i] = (byte)((i * 31 + seed) % 255 + 1); // never zero
        return b;
    }

    [Fact]
    public void The_writer_stores_a_delta_only_over_content_while_it_is_small_and_the_chain_short()
    {
        var prev = Bytes(4096, 1);
        Assert.True(ChunkDeltas.Decide(prev, 0, prev).Unchanged);

        var appended = prev.Concat(Bytes(1024, 2)).ToArray();
        Assert.Equal(new ChunkChange(false, false, 4096, 1024), ChunkDeltas.Decide(prev, 0, appended));

        var middle = (byte[])prev.Clone();
        middle[100] ^= 0xFF;
        middle[109] ^= 0xFF;
        Assert.Equal(new ChunkChange(false, false, 100, 10), ChunkDeltas.Decide(prev, 3, middle));

        // Shrunk: the delta carries the zeros over the old tail.
        Assert.Equal(new ChunkChange(false, false, 4000, 96), ChunkDeltas.Decide(prev, 0, prev.AsSpan(0, 4000)));

        // Grown past a run of zeros: the delta starts at the first non-zero byte.
        var gap = prev.Concat(new byte[100]).Concat(new byte[] { 5 }).ToArray();
        Assert.Equal(new ChunkChange(false, false, 4196, 1), ChunkDeltas.Decide(prev, 0, gap));

        // Whole: more than half changed, the chain at its limit, nothing before, all zeros now.
        var most = Bytes(4096, 9);
        most[0] = prev[0];
        Assert.Equal(new ChunkChange(false, true, 0, 4096), ChunkDeltas.Decide(prev, 0, most));
        Assert.Equal(new ChunkChange(false, true, 0, 4096), ChunkDeltas.Decide(prev, ChunkDeltas.MaxDepth, middle));
        Assert.Equal(new ChunkChange(false, false, 100, 10), ChunkDeltas.Decide(prev, ChunkDeltas.MaxDepth - 1, middle));
        Assert.Equal(new ChunkChange(false, true, 0, 4096), ChunkDeltas.Decide([], 0, prev));
        Assert.Equal(new ChunkChange(false, true, 0, 0), ChunkDeltas.Decide(prev, 2, []));
    }

    [Fact]
    public void Every_version_reads_back_under_random_edits_and_after_pack()
    {
        const int blockSize = 8192;
        using var s = SqliteStorage.Open(_dir.File("r.db"), new StorageOptions { ChunkSize = 1024 });
        var f = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(blockSize))], []);
        var rnd = new Random(11);
        var model = new[] { new byte[blockSize], new byte[blockSize] };
        var history = new List<(Tid Tid, byte[][] Blocks)>();
        for (var i = 0; i < 400; i++)
        {
            var blk = rnd.Next(2);
            var b = model[blk];
            switch (rnd.Next(10))
            {
                case < 5: // a small overwrite (the common case: a delta)
                    var at = rnd.Next(blockSize - 64);
                    rnd.NextBytes(b.AsSpan(at, rnd.Next(1, 64)));
                    break;
                case < 7: // zero a tail
                    b.AsSpan(rnd.Next(blockSize)).Clear();
                    break;
                case 7: // a whole new block
                    rnd.NextBytes(b);
                    break;
                case 8: // all zeros (hole chunks)
                    Array.Clear(b);
                    break;
                default: // one byte, possibly zero
                    b[rnd.Next(blockSize)] = (byte)rnd.Next(2);
                    break;
            }
            var tid = s.Commit(s.LastTid, [], [new BlockWrite(f, blk, (byte[])b.Clone())]);
            history.Add((tid, model.Select(m => (byte[])m.Clone()).ToArray()));
        }

        void CheckFrom(int first)
        {
            var buf = new byte[blockSize];
            for (var v = first; v < history.Count; v++)
                for (var blk = 0; blk < 2; blk++)
                {
                    buf.AsSpan().Fill(0xEE);
                    s.ReadBlock(f, blk, history[v].Tid, buf);
                    Assert.True(history[v].Blocks[blk].AsSpan().SequenceEqual(buf), $"block {blk} at version {v} reads back different");
                }
        }
        CheckFrom(0);
        var deepest = SqliteFile.Scalar(s.Path, "SELECT max(depth) FROM chunk");
        Assert.InRange(deepest, 2, ChunkDeltas.MaxDepth); // chains were built, and bounded
        Assert.True(SqliteFile.Scalar(s.Path, "SELECT count(*) FROM chunk WHERE off IS NOT NULL") > 100);

        var rows = SqliteFile.Scalar(s.Path, "SELECT count(*) FROM chunk");
        s.Pack(history[250].Tid);
        Assert.True(SqliteFile.Scalar(s.Path, "SELECT count(*) FROM chunk") < rows);
        CheckFrom(250);
        Assert.Equal(0L, SqliteFile.Scalar(s.Path, "SELECT count(*) FROM chunk AS c WHERE tid = (SELECT min(tid) FROM chunk AS o " +
            "WHERE o.oid = c.oid AND o.blk = c.blk AND o.chunk = c.chunk) AND off IS NOT NULL")); // every chain kept its start
    }

    [Fact]
    public void Appends_store_their_bytes_once_and_pack_keeps_each_chain_from_its_whole_version()
    {
        // The layout under StorageConformanceTests.Appends_are_stored_as_deltas_... (which checks
        // reads and du on both backends): the rows themselves.
        using var s = SqliteStorage.Open(_dir.File("a.db"));
        var f = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(2 << 20))], []);
        var data = Bytes(256 << 10, 3);
        var tids = new List<Tid>();
        for (var n = 1; n <= 256; n++)
            tids.Add(s.Commit(s.LastTid, [], [new BlockWrite(f, 0, data.AsMemory(0, n << 10))]));

        // Whole versions stored each time would hold 8.1 MiB; per 64 KiB chunk the deltas store
        // whole versions of 1 and 33 KiB and 62 deltas of 1 KiB: 96 KiB.
        Assert.Equal(4L * (96 << 10), SqliteFile.Scalar(s.Path, "SELECT sum(length(data)) FROM chunk"));
        Assert.Equal(4L * 2, SqliteFile.Scalar(s.Path, "SELECT count(*) FROM chunk WHERE off IS NULL"));
        Assert.Equal(31L, SqliteFile.Scalar(s.Path, "SELECT max(depth) FROM chunk"));

        // Pack at version 200: each chunk keeps its rows from its newest whole version ≤ the cut.
        // Chunks 0-2 (versions 1-64, 65-128, 129-192): from their second whole on, 32 rows each;
        // chunk 3 (193-256): version 200 is a delta of depth 7 over 193, so all 64 stay.
        s.Pack(tids[200 - 1]);
        Assert.Equal(3L * 32 + 64, SqliteFile.Scalar(s.Path, "SELECT count(*) FROM chunk"));
    }

    [Fact]
    public void A_chain_without_its_whole_version_or_a_delta_past_the_chunk_is_refused_in_one_line()
    {
        var path = _dir.File("c.db");
        Oid f;
        Tid last;
        using (var s = SqliteStorage.Open(path, new StorageOptions { ChunkSize = 4096 }))
        {
            f = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
            var data = Bytes(4096, 5);
            s.Commit(s.LastTid, [], [new BlockWrite(f, 0, data)]);
            data[10] = 0;
            last = s.Commit(s.LastTid, [], [new BlockWrite(f, 0, data)]);
        }
        SqliteConnection.ClearAllPools();
        Assert.Equal(1L, SqliteFile.Scalar(path, "SELECT count(*) FROM chunk WHERE off = 10 AND depth = 1"));

        SqliteFile.Exec(path, "UPDATE chunk SET off = 4096 WHERE depth = 1");
        using (var s = SqliteStorage.Open(path))
        {
            var e = Assert.Throws<StorageException>(() => s.ReadBlock(f, 0, last, new byte[4096]));
            Assert.Contains("reaches past the 4096-byte chunk (corrupt database)", e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        SqliteConnection.ClearAllPools();
        SqliteFile.Exec(path, "DELETE FROM chunk WHERE off IS NULL");
        using (var s = SqliteStorage.Open(path))
        {
            var e = Assert.Throws<StorageException>(() => s.ReadBlock(f, 0, last, new byte[4096]));
            Assert.Contains("does not start at a whole version (corrupt database)", e.Message);
            // The writer reads the chain too: a commit over it fails the same way and stores nothing.
            var before = s.LastTid;
            Assert.Throws<StorageException>(() => s.Commit(before, [], [new BlockWrite(f, 0, new byte[] { 1 })]));
            Assert.Equal(before, s.LastTid);
        }
    }
}
