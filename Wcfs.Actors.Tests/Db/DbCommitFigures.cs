// Commit throughput of a Connection with dirty pages (writeout STORE into the transaction's block
// store, one SQLite commit, MARKSTORED) vs raw SQLite block inserts of the same data through
// IStorage.Commit, measured side by side. CI runs 16 MiB as a smoke test; WCFS_BENCH=1 runs 256 MiB
// (figures in docs/NOTES.md "Db"). The base layer is virtmem's zero-fill file (no WCFS), so this
// measures the transaction path only.
using System.Diagnostics;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Db;

public sealed class DbCommitFigures(ITestOutputHelper output) : DbTestBase
{
    private const int Block = 2 << 20;
    private static readonly bool Full = Environment.GetEnvironmentVariable("WCFS_BENCH") == "1";
    private static readonly long Size = Full ? 256L << 20 : 16L << 20;

    protected override long RamLimitMiB => Size / (1 << 20) + 16;

    protected override long PageSizeKiB => Block / 1024;


    [Fact]
    public async Task Commit_of_dirty_pages_is_measured_against_raw_sqlite_block_inserts()
    {
        var blocks = (int)(Size / Block);
        byte Pattern(long blk, long i) => (byte)(i * 31 + blk + 1);

        // Raw baseline: the same blocks in one IStorage.Commit on a fresh database.
        using var raw = StorageFactory.Open("sqlite://" + Dir.File("raw.db"));
        var rawOid = raw.NewOid();
        var writes = new List<BlockWrite>();
        for (long b = 0; b < blocks; b++)
        {
            var buf = new byte[Block];
            for (var i = 0; i < Block; i++)
                buf[i] = Pattern(b, i);
            writes.Add(new BlockWrite(rawOid, b, buf));
        }
        raw.Commit(raw.LastTid, [new ObjectWrite(rawOid, new ZBigFileState(Block))], [writes[0]]); // warm-up: file, WAL, JIT
        var sw = Stopwatch.StartNew();
        raw.Commit(raw.LastTid, [], writes);
        var rawSeconds = sw.Elapsed.TotalSeconds;

        // Ours: dirty pages of a connection's BigFileH, committed.
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(c, Block);
        c.Root["f"] = f;
        await c.CommitAsync();
        var h = await f.OpenAsync();
        using var vma = await h.MmapAsync(0, Size / h.PageSize);
        for (long b = 0; b < blocks; b++)
            writes[(int)b].Data!.Value.Span.CopyTo(vma.GetSpan(b * Block, Block));
        sw.Restart();
        var tid = await c.CommitAsync();
        var oursSeconds = sw.Elapsed.TotalSeconds;

        var check = new byte[Block];
        db.Storage.ReadBlock(f.Oid, blocks - 1, tid, check);
        Assert.Equal(Pattern(blocks - 1, Block - 1), check[Block - 1]);
        Assert.False(h.IsDirty);
        output.WriteLine($"size {Size >> 20} MiB in {blocks} blocks of 2 MiB");
        output.WriteLine($"raw IStorage.Commit (SQLite)          : {Size / rawSeconds / 1e6:F0} MB/s");
        output.WriteLine($"Connection.CommitAsync of dirty pages : {Size / oursSeconds / 1e6:F0} MB/s  ({rawSeconds / oursSeconds:F2}x of raw)");
    }

    private protected override IWcfsSessionFactory Sessions => ZeroBase.Instance;

    private sealed class ZeroBase : IWcfsSessionFactory
    {
        public static readonly ZeroBase Instance = new();

        public Task<IWcfsSession> ConnectAsync(Tid at) => Task.FromResult<IWcfsSession>(new Session(at));

        private sealed class Session(Tid at) : IWcfsSession
        {
            public Tid At { get; private set; } = at;

            public Task ResyncAsync(Tid at)
            {
                At = at;
                return Task.CompletedTask;
            }

            public Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store) => Task.FromResult(BigFile.Zero(blockSize, store));

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
