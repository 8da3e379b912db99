// StorageConformanceTests - the behavior every IStorage backend must have (STORAGE.md, IStorage
// invariants (1)-(4)), written once. A backend's test class subclasses it and says how to make a
// fresh storage, how to open a second handle to it, and which URL a child process uses.
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Storage;

public abstract class StorageConformanceTests : IDisposable
{
    private readonly List<IStorage> _open = [];
    private IStorage? _storage;

    protected StorageConformanceTests(ITestOutputHelper output) => Output = output;

    protected ITestOutputHelper Output { get; }

    /// <summary>A fresh, empty storage (called at most once per test).</summary>
    protected abstract IStorage CreateStorage();

    /// <summary>Another independent handle to the storage <see cref="CreateStorage"/> made.</summary>
    protected abstract IStorage OpenSecondInstance();

    /// <summary>The URL a child `wcfs` process uses to open the same storage.</summary>
    protected abstract string Url { get; }

    /// <summary>Called after every storage handle of the test is disposed (remove files, drop databases).</summary>
    protected virtual void Cleanup() { }

    /// <summary>Whether the backend stores any small chunk change as a delta (ChunkDeltas.cs; SQLite does; PostgreSQL only appends).</summary>
    protected virtual bool StoresDeltas => false;

    /// <summary>The storage under test.</summary>
    protected IStorage Storage => _storage ??= Track(CreateStorage());

    /// <summary>A tracked second handle (disposed with the test).</summary>
    protected IStorage Second() => Track(OpenSecondInstance());

    private IStorage Track(IStorage s)
    {
        _open.Add(s);
        return s;
    }

    public void Dispose()
    {
        foreach (var s in _open)
            s.Dispose();
        Cleanup();
        GC.SuppressFinalize(this);
    }

    // ---- domain helpers -------------------------------------------------------------------

    protected const int BlockSize = 4096;

    /// <summary>Creates and commits a ZBigFile; returns its oid.</summary>
    protected static Oid NewFile(IStorage s, int blockSize = BlockSize)
    {
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(blockSize))], []);
        return oid;
    }

    /// <summary>"commit blocks {2: "c1", 3: null}" → the new tid (base = the storage's last tid).</summary>
    protected static Tid CommitBlocks(IStorage s, Oid file, params (long Blk, string? Text)[] blocks) =>
        CommitBlocksAt(s, s.LastTid, file, blocks);

    protected static Tid CommitBlocksAt(IStorage s, Tid baseAt, Oid file, params (long Blk, string? Text)[] blocks) =>
        s.Commit(baseAt, [], [.. blocks.Select(b => new BlockWrite(file, b.Blk, b.Text is null ? null : Encoding.ASCII.GetBytes(b.Text)))]);

    /// <summary>The block's text as of <paramref name="at"/> (trailing zeros dropped; "" for zeros) and its serial.</summary>
    protected static (string Text, Tid? Serial) Read(IStorage s, Oid file, long blk, Tid at, int blockSize = BlockSize)
    {
        var buf = new byte[blockSize];
        buf.AsSpan().Fill(0xEE); // proves the read overwrites every byte
        var serial = s.ReadBlock(file, blk, at, buf);
        return (Encoding.ASCII.GetString(buf.AsSpan(0, buf.AsSpan().LastIndexOfAnyExcept((byte)0) + 1)), serial);
    }

    private static Tid Before(Tid t) => new(t.Value - 1);

    // ---- tests ----------------------------------------------------------------------------

    [Fact]
    public void An_empty_storage_has_last_tid_zero_and_an_empty_root()
    {
        Assert.Equal(Tid.Zero, Storage.LastTid);
        var root = Storage.LoadObject(Oid.Root, Tid.Max);
        Assert.NotNull(root);
        Assert.Equal(RootState.Empty.Names, ((RootState)root.State).Names);
        Assert.Equal([Oid.Root], Storage.ListObjects(Tid.Max));
    }

    [Fact]
    public void Reads_as_of_every_tid_see_exactly_the_commits_up_to_it()
    {
        var f = NewFile(Storage);
        var t0 = Storage.LastTid;
        var history = new (long, string?)[][]
        {
            [(0, "a1"), (2, "c1")],
            [(2, "c2"), (3, "d2")],
            [(0, "a3"), (3, null)],
            [(5, "f4")],
            [(2, "c5"), (0, "a5")],
        };
        var tids = new List<Tid>();
        var model = new List<Dictionary<long, (string, Tid?)>>();
        var state = Enumerable.Range(0, 7).ToDictionary(b => (long)b, _ => ("", (Tid?)null));
        foreach (var commit in history)
        {
            var t = CommitBlocks(Storage, f, commit);
            foreach (var (blk, text) in commit)
                state[blk] = (text ?? "", t);
            tids.Add(t);
            model.Add(new Dictionary<long, (string, Tid?)>(state));
        }
        for (var i = 0; i < tids.Count; i++)
        {
            foreach (var at in new[] { tids[i], i + 1 < tids.Count ? Before(tids[i + 1]) : Tid.Max })
            {
                foreach (var (blk, expected) in model[i])
                {
                    Assert.Equal(expected, Read(Storage, f, blk, at));
                    Assert.Equal(expected.Item2, Storage.BlockRevAt(f, blk, at));
                }
            }
        }
        Assert.Equal(("", null), Read(Storage, f, 0, t0));
        Assert.Equal(-1, Storage.LastBlock(f, t0));
        Assert.Equal(2, Storage.LastBlock(f, tids[0]));
        Assert.Equal(3, Storage.LastBlock(f, tids[2])); // a deleted block still counts: size is a high-water mark
        Assert.Equal(5, Storage.LastBlock(f, tids[3]));
        Assert.Equal(tids[^1], Storage.LastTid);
    }

    [Fact]
    public void Holes_zeros_and_trailing_zeros_read_back_exactly()
    {
        var f = NewFile(Storage);
        Assert.Equal(("", null), Read(Storage, f, 7, Tid.Max));

        var withTail = new byte[BlockSize];
        withTail[0] = 1;
        withTail[100] = 2; // then zeros to the end: trailing zeros are not stored but read back
        var zeros = new byte[BlockSize];
        var shortData = new byte[] { 9, 9, 0, 0 };
        var t = Storage.Commit(Storage.LastTid, [],
        [
            new BlockWrite(f, 0, withTail), new BlockWrite(f, 1, zeros), new BlockWrite(f, 2, shortData), new BlockWrite(f, 3, Array.Empty<byte>()),
        ]);
        var buf = new byte[BlockSize];
        buf.AsSpan().Fill(0xEE);
        Assert.Equal(t, Storage.ReadBlock(f, 0, t, buf));
        Assert.Equal(withTail, buf);
        foreach (var blk in new long[] { 1, 3 })
        {
            buf.AsSpan().Fill(0xEE);
            Assert.Equal(t, Storage.ReadBlock(f, blk, t, buf)); // written as zeros: a hole with a serial
            Assert.True(buf.AsSpan().IndexOfAnyExcept((byte)0) < 0, $"block {blk} must read as zeros");
        }
        buf.AsSpan().Fill(0xEE);
        Storage.ReadBlock(f, 2, t, buf);
        Assert.Equal(new byte[] { 9, 9, 0, 0, 0 }, buf[..5]);
        Assert.True(buf.AsSpan(2).IndexOfAnyExcept((byte)0) < 0);

        var t2 = CommitBlocks(Storage, f, (0, null));
        Assert.Equal(("", t2), Read(Storage, f, 0, t2));
        Assert.Equal(withTail[..101], ReadBytes(Storage, f, 0, t)[..101]);
    }

    private static byte[] ReadBytes(IStorage s, Oid f, long blk, Tid at)
    {
        var b = new byte[BlockSize];
        s.ReadBlock(f, blk, at, b);
        return b;
    }

    [Fact]
    public void A_conflict_on_a_block_writes_nothing_and_names_the_block()
    {
        var f = NewFile(Storage);
        var baseAt = CommitBlocks(Storage, f, (1, "base"));
        var winner = CommitBlocksAt(Storage, baseAt, f, (1, "winner"));

        var e = Assert.Throws<ConflictException>(() => CommitBlocksAt(Storage, baseAt, f, (2, "loser-other"), (1, "loser")));
        Assert.Equal(f, e.Oid);
        Assert.Equal(1, e.Blk);
        Assert.Equal(winner, e.NewerTid);
        Assert.Contains("block 1", e.Message);

        Assert.Equal(winner, Storage.LastTid);
        Assert.Equal(("winner", winner), Read(Storage, f, 1, Tid.Max));
        Assert.Equal(("", null), Read(Storage, f, 2, Tid.Max));
        // A writer of other blocks at the old base does not conflict.
        var t = CommitBlocksAt(Storage, baseAt, f, (2, "other"));
        Assert.True(t > winner);
    }

    [Fact]
    public void A_conflict_on_an_object_writes_nothing_and_names_the_object()
    {
        var f = NewFile(Storage);
        var baseAt = Storage.LastTid;
        var names = RootState.Empty.Names;
        var winner = Storage.Commit(baseAt, [new ObjectWrite(Oid.Root, new RootState(names.Add("a", f)))], []);

        var e = Assert.Throws<ConflictException>(() => Storage.Commit(baseAt,
            [new ObjectWrite(Oid.Root, new RootState(names.Add("b", f)))],
            [new BlockWrite(f, 0, new byte[] { 1 })]));
        Assert.Equal(Oid.Root, e.Oid);
        Assert.Null(e.Blk);
        Assert.Equal(winner, Storage.LastTid);
        Assert.Equal(["a"], ((RootState)Storage.LoadObject(Oid.Root, Tid.Max)!.State).Names.Keys);
        Assert.Null(Storage.BlockRevAt(f, 0, Tid.Max));
    }

    [Fact]
    public void A_second_instance_sees_commits_and_conflicts_with_them()
    {
        var f = NewFile(Storage);
        var other = Second();
        var baseAt = other.LastTid;
        var t1 = CommitBlocks(Storage, f, (0, "from-first"));
        Assert.Equal(t1, other.LastTid);
        Assert.Equal(("from-first", t1), Read(other, f, 0, Tid.Max));
        Assert.Throws<ConflictException>(() => CommitBlocksAt(other, baseAt, f, (0, "from-second")));
        Assert.Equal(t1, Storage.LastTid);
    }

    [Fact]
    public void Objects_are_versioned_and_a_deleted_object_reads_as_absent()
    {
        var f = NewFile(Storage);
        var created = Storage.LastTid;
        var a = Storage.NewOid();
        var t1 = Storage.Commit(Storage.LastTid, [new ObjectWrite(a, new ZBigArrayState([2, 3], "float64", ArrayOrder.C, f))], []);
        var t2 = Storage.Commit(t1, [new ObjectWrite(a, new ZBigArrayState([4, 3], "float64", ArrayOrder.C, f))], []);
        var t3 = Storage.Commit(t2, [new ObjectWrite(a, null)], []);

        Assert.Null(Storage.LoadObject(a, created));
        var v1 = Storage.LoadObject(a, t1)!;
        Assert.Equal(t1, v1.Serial);
        Assert.Equal<long>([2, 3], ((ZBigArrayState)v1.State).Shape);
        Assert.Equal<long>([4, 3], ((ZBigArrayState)Storage.LoadObject(a, Before(t3))!.State).Shape);
        Assert.Null(Storage.LoadObject(a, t3));
        Assert.Contains(a, Storage.ListObjects(t2));
        Assert.DoesNotContain(a, Storage.ListObjects(t3));
        Assert.Equal(new ZBigFileState(BlockSize), Storage.LoadObject(f, Tid.Max)!.State);
    }

    [Fact]
    public void A_file_created_and_written_in_one_commit_reads_back_and_is_named_in_the_root()
    {
        var f = Storage.NewOid();
        var t = Storage.Commit(Storage.LastTid,
            [new ObjectWrite(f, new ZBigFileState(BlockSize)), new ObjectWrite(Oid.Root, new RootState(RootState.Empty.Names.Add("f", f)))],
            [new BlockWrite(f, 1, Encoding.ASCII.GetBytes("first"))]);
        Assert.Equal(("first", t), Read(Storage, f, 1, t));
        Assert.Equal(1, Storage.LastBlock(f, t));
        var root = Storage.LoadObject(Oid.Root, t)!;
        Assert.Equal(t, root.Serial);
        Assert.Equal(f, ((RootState)root.State).Names["f"]);
        Assert.Equal([Oid.Root, f], Storage.ListObjects(t));
    }

    [Fact]
    public void Invalid_writes_are_refused_and_nothing_is_written()
    {
        var f = NewFile(Storage);
        var last = Storage.LastTid;
        Assert.Throws<ArgumentException>(() => Storage.Commit(last, [], [new BlockWrite(f, 0, new byte[BlockSize + 1])]));
        Assert.Throws<ArgumentException>(() => Storage.Commit(last, [], [new BlockWrite(new Oid(12345), 0, new byte[] { 1 })]));
        Assert.Throws<ArgumentException>(() => Storage.Commit(last, [new ObjectWrite(f, new ZBigFileState(2 * BlockSize))], []));
        Assert.Throws<ArgumentException>(() => Storage.Commit(last, [new ObjectWrite(new Oid(1UL << 40), new ZBigFileState(BlockSize))], []));
        Assert.Throws<ArgumentException>(() => Storage.Commit(new Tid(last.Value + 1000), [], [new BlockWrite(f, 0, new byte[] { 1 })]));
        // (blk+1)×blksize must stay ≤ 2^63−1 (else the file's size wraps to 0 or a negative number)
        var max = BlockNumber.MaxInFile(BlockSize);
        foreach (var blk in new[] { long.MaxValue, max + 1 })
            Assert.Contains("out of range", Assert.Throws<ArgumentException>(() => Storage.Commit(last, [], [new BlockWrite(f, blk, new byte[] { 1 })])).Message);
        Assert.Equal(last, Storage.LastTid);
        Assert.Null(Storage.BlockRevAt(f, 0, Tid.Max));

        // the last block that fits is fine, and the file's size is then the largest whole-block size
        var t = Storage.Commit(last, [], [new BlockWrite(f, max, new byte[] { 1 })]);
        Assert.Equal(max, Storage.LastBlock(f, t));
        Assert.Equal(long.MaxValue - long.MaxValue % BlockSize, BlockNumber.FileSize(Storage.LastBlock(f, t), BlockSize));
    }

    [Fact]
    public void Oids_are_never_reused_across_instances_and_uncommitted_allocations()
    {
        var seen = new HashSet<Oid> { Oid.Root };
        var a = Storage.NewOid();
        var b = Storage.NewOid(); // never committed
        var c = Second().NewOid();
        NewFile(Storage);
        var d = Storage.NewOid();
        foreach (var o in new[] { a, b, c, d })
            Assert.True(seen.Add(o), $"oid {o} was handed out twice");
        Assert.True(a < b && b < c && c < d, "oids are allocated in increasing order");
    }

    [Fact]
    public void Tids_strictly_increase_and_come_from_the_commit_time()
    {
        var f = NewFile(Storage);
        var previous = Storage.LastTid;
        for (var i = 0; i < 20; i++)
        {
            var before = (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
            var t = CommitBlocks(Storage, f, (i % 3, $"v{i}"));
            var after = (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
            Assert.True(t > previous, $"tid {t} must be after {previous}");
            Assert.InRange(t.Value, before, Math.Max(after, previous.Value + 1));
            previous = t;
        }
    }

    [Fact]
    public void Concurrent_commits_from_many_threads_all_land_with_distinct_tids()
    {
        var f = NewFile(Storage);
        var other = Second();
        var tids = new System.Collections.Concurrent.ConcurrentBag<Tid>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, w =>
        {
            var s = w % 2 == 0 ? Storage : other;
            for (var i = 0; i < 10; i++)
                tids.Add(CommitBlocksAt(s, s.LastTid, f, (w * 10 + i, $"w{w}i{i}")));
        });
        Assert.Equal(40, tids.Distinct().Count());
        for (var w = 0; w < 4; w++)
            for (var i = 0; i < 10; i++)
                Assert.Equal($"w{w}i{i}", Read(Storage, f, w * 10 + i, Tid.Max).Text);
    }

    [Fact]
    public async Task Changes_delivers_every_commit_exactly_once_in_order()
    {
        var f = NewFile(Storage);
        var start = Storage.LastTid;
        var expected = new List<Tid>
        {
            CommitBlocks(Storage, f, (0, "a"), (4, "e")),
            CommitBlocks(Storage, f, (1, "b")),
        };
        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        var got = new List<ChangeRecord>();
        await using var e = Storage.Changes(start, cts.Token).GetAsyncEnumerator(cts.Token);
        for (var i = 0; i < 2; i++)
        {
            Assert.True(await e.MoveNextAsync());
            got.Add(e.Current);
        }
        // Later commits (one from a second instance, one with an object) arrive while the stream waits.
        var pending = e.MoveNextAsync().AsTask();
        expected.Add(CommitBlocks(Second(), f, (2, "c")));
        Assert.True(await pending);
        got.Add(e.Current);
        var a = Storage.NewOid();
        expected.Add(Storage.Commit(Storage.LastTid, [new ObjectWrite(a, new ZBigArrayState([1], "int8", ArrayOrder.C, f))], [new BlockWrite(f, 3, null)]));
        Assert.True(await e.MoveNextAsync());
        got.Add(e.Current);

        Assert.Equal(expected, got.Select(c => c.Tid));
        Assert.Equal([0L, 4L], got[0].Blocks[f]);
        Assert.Empty(got[0].Objects);
        Assert.Equal([1L], got[1].Blocks[f]);
        Assert.Equal([2L], got[2].Blocks[f]);
        Assert.Equal([a], got[3].Objects);
        Assert.Equal([3L], got[3].Blocks[f]);
        var next = e.MoveNextAsync().AsTask();
        Assert.False(next.IsCompleted, "no commit happened: the stream must wait");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => next);
    }

    [Fact]
    public async Task Changes_reach_a_reader_in_another_process_exactly_once_in_order()
    {
        var f = NewFile(Storage);
        var start = Storage.LastTid;
        const int commits = 11;
        using var child = WcfsCli.Start("debug", "changes", Url, "--after", start.ToString(), "--count", commits.ToString());
        try
        {
            using var cts = new CancellationTokenSource(TestTimeouts.Default);
            var expected = new List<Tid>();
            var latencies = new List<double>();
            // Ping-pong: each commit waits for the child to report the previous one, so every
            // delivery is measured from the moment Commit returned (the first also covers startup).
            for (var i = 0; i < commits; i++)
            {
                expected.Add(CommitBlocks(Storage, f, (i, $"x{i}")));
                var returned = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
                var line = await child.StandardOutput.ReadLineAsync(cts.Token);
                if (line is null)
                    Assert.Fail($"the reader exited early: {await child.StandardError.ReadToEndAsync()}");
                var parts = line.Split(' ');
                Assert.Equal(expected[^1], Tid.Parse(parts[0]));
                if (i > 0)
                    latencies.Add((long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) - returned) / 1e6);
            }
            await child.WaitForExitAsync(cts.Token);
            Assert.Equal(0, child.ExitCode);
            Assert.Null(await child.StandardOutput.ReadLineAsync(cts.Token)); // nothing delivered twice
            latencies.Sort();
            Output.WriteLine($"Commit returned → delivered in another process: p50 {latencies[latencies.Count / 2]:0.00} ms, max {latencies[^1]:0.00} ms");
        }
        finally
        {
            if (!child.HasExited)
                child.Kill();
        }
    }

    [Fact]
    public void Pack_keeps_what_readers_at_or_after_the_cut_see()
    {
        var f = NewFile(Storage);
        var t1 = CommitBlocks(Storage, f, (0, "a1"), (1, "b1"), (2, "c1"));
        var t2 = CommitBlocks(Storage, f, (0, "a2"), (2, null));
        var t3 = CommitBlocks(Storage, f, (0, "a3"), (3, "d3"));
        var t4 = CommitBlocks(Storage, f, (1, "b4"));
        var ats = new[] { t2, Before(t3), t3, t4 };
        var before = ats.SelectMany(at => Enumerable.Range(0, 5).Select(b => (at, b, Read(Storage, f, b, at), Storage.BlockRevAt(f, b, at)))).ToList();
        var rootBefore = Storage.LoadObject(Oid.Root, t2);

        Storage.Pack(t2);

        foreach (var (at, b, read, rev) in before)
        {
            Assert.Equal(read, Read(Storage, f, b, at));
            Assert.Equal(rev, Storage.BlockRevAt(f, b, at));
        }
        Assert.Equal(rootBefore, Storage.LoadObject(Oid.Root, t2));
        Assert.Equal(new ZBigFileState(BlockSize), Storage.LoadObject(f, t2)!.State);
        Assert.Equal(t4, Storage.LastTid);
        Assert.NotEqual(("a1", t1), Read(Storage, f, 0, t1)); // versions before the cut that were overwritten by it are gone
    }

    /// <summary>A 256 KiB block of pseudo-random bytes (no zeros), deterministic per seed.</summary>
    private static byte[] RandomBlock(int seed, int size = 256 << 10)
    {
        var b = new byte[size];
        new Random(seed).NextBytes(b);
        for (var i = 0; i < b.Length; i++)
            b[i] |= 1;
        return b;
    }

    private static byte[] ReadAll(IStorage s, Oid file, long blk, Tid at, int size = 256 << 10)
    {
        var buf = new byte[size];
        buf.AsSpan().Fill(0xEE);
        s.ReadBlock(file, blk, at, buf);
        return buf;
    }

    [Fact]
    public void A_commit_stores_only_the_chunks_that_changed_and_every_version_reads_back_whole()
    {
        const int size = 256 << 10; // 4 chunks of the default 64 KiB
        var f = NewFile(Storage, blockSize: size);
        var versions = new List<(Tid Tid, byte[] Data)>();
        void Write(byte[]? data)
        {
            var t = Storage.Commit(Storage.LastTid, [], [new BlockWrite(f, 0, data)]);
            versions.Add((t, data is null ? new byte[size] : (byte[])data.Clone()));
        }
        var v = RandomBlock(1);
        Write(v);
        var full = Storage.Usage().Single(u => u.File == f);
        Assert.Equal((long)size, full.HeadBytes);
        Assert.Equal(0L, full.HistoryBytes);

        for (var i = 0; i < 5; i++)
        {
            v[(64 << 10) * 2 + 1000 + i] ^= 0x80; // one byte in chunk 2
            Write(v);
        }
        var afterBytes = Storage.Usage().Single(u => u.File == f);
        if (StoresDeltas)
        {
            // A one-byte delta per commit, all in chunk 2's chain (the head).
            Assert.Equal(size + 5L, afterBytes.HeadBytes);
            Assert.Equal(0L, afterBytes.HistoryBytes);
        }
        else
        {
            Assert.Equal((long)size, afterBytes.HeadBytes);
            Assert.Equal(5L * (64 << 10), afterBytes.HistoryBytes); // one chunk per commit, not one block
        }

        var shorter = (byte[])v.Clone();
        shorter.AsSpan(100_000).Clear(); // chunks 2 and 3 become zeros, chunk 1 is cut short
        Write(shorter);
        Write(null);                      // deleted: every chunk a hole
        var again = new byte[size];
        again[5] = 9;                     // only chunk 0 again
        Write(again);
        Write(again);                     // the same bytes again: a version with no chunk stored
        Write(RandomBlock(2));

        foreach (var (tid, data) in versions)
        {
            Assert.Equal(data, ReadAll(Storage, f, 0, tid));
            Assert.Equal(tid, Storage.BlockRevAt(f, 0, tid));
            var buf = new byte[size];
            Assert.Equal(tid, Storage.ReadBlock(f, 0, tid, buf));
        }
        using var second = Second();
        foreach (var (tid, data) in versions)
            Assert.Equal(data, ReadAll(second, f, 0, tid));
        Assert.Equal(0L, Storage.LastBlock(f, Tid.Max));
    }

    [Fact]
    public void Appends_are_stored_as_deltas_every_version_reads_back_and_pack_keeps_their_chains()
    {
        // 256 commits each appending 1 KiB to one block (64 KiB chunks, ChunkDeltas.cs): per chunk,
        // whole versions of 1 and 33 KiB plus 62 append deltas of 1 KiB (both backends store
        // appends as deltas). Whole versions each time would be 8.1 MiB.
        var f = NewFile(Storage, blockSize: 2 << 20);
        var data = new byte[256 << 10];
        for (var i = 0; i < data.Length; i++)
            data[i] = (byte)((i * 31 + 3) % 255 + 1);
        var tids = new List<Tid>();
        for (var n = 1; n <= 256; n++)
            tids.Add(Storage.Commit(Storage.LastTid, [], [new BlockWrite(f, 0, data.AsMemory(0, n << 10))]));
        var usage = Storage.Usage().Single(u => u.File == f);
        Assert.Equal(4L * (64 << 10), usage.HeadBytes); // the whole 33 KiB + 31 deltas of each chunk
        Assert.Equal(4L * (32 << 10), usage.HistoryBytes);

        void Check(int n, IStorage s)
        {
            var buf = ReadAll(s, f, 0, tids[n - 1]);
            Assert.True(buf.AsSpan(0, n << 10).SequenceEqual(data.AsSpan(0, n << 10)) && !buf.AsSpan(n << 10).ContainsAnyExcept((byte)0), $"version {n}");
        }
        foreach (var n in new[] { 1, 2, 32, 33, 34, 64, 65, 200, 256 })
            Check(n, Storage);
        using (var second = Second())
            Check(256, second);

        Storage.Pack(tids[200 - 1]); // version 200 is a delta of depth 7 over version 193
        for (var n = 200; n <= 256; n++)
            Check(n, Storage);
        var packed = Storage.Usage().Single(u => u.File == f);
        Assert.Equal(usage.HeadBytes, packed.HeadBytes);
        Assert.Equal(3L * (1 << 10) + 3L * (31 << 10), usage.HistoryBytes - packed.HistoryBytes); // chunks 0-2 dropped their first 32 versions
    }

    [Fact]
    public void A_block_smaller_than_a_chunk_and_a_buffer_larger_than_the_block_read_back_exactly()
    {
        var f = NewFile(Storage, blockSize: 4096);
        var t = CommitBlocks(Storage, f, (0, "tiny"));
        var buf = new byte[1 << 20];
        buf.AsSpan().Fill(0xEE);
        Assert.Equal(t, Storage.ReadBlock(f, 0, t, buf));
        Assert.Equal("tiny"u8.ToArray(), buf[..4]);
        Assert.True(buf.AsSpan(4).IndexOfAnyExcept((byte)0) < 0);
    }

    [Fact]
    public void Pack_of_chunked_history_keeps_every_read_at_or_after_the_cut_and_drops_the_rest()
    {
        const int size = 256 << 10;
        var f = NewFile(Storage, blockSize: size);
        var g = NewFile(Storage, blockSize: size);
        var v = RandomBlock(3);
        var tids = new List<Tid>();
        for (var i = 0; i < 8; i++)
        {
            v[(i % 4) * (64 << 10) + 7] ^= (byte)(i + 1); // chunk i % 4
            tids.Add(Storage.Commit(Storage.LastTid, [], [new BlockWrite(f, 0, v), new BlockWrite(f, 1, i == 3 ? null : v), new BlockWrite(g, i, v)]));
        }
        var cut = tids[5];
        var before = tids.Where(t => t >= cut).Concat([new Tid(tids[6].Value - 1), Tid.Max])
            .SelectMany(at => new long[] { 0, 1, 2, 7 }.SelectMany(b => new[] { f, g }.Select(file => (at, b, file, ReadAll(Storage, file, b, at), Storage.BlockRevAt(file, b, at), Storage.LastBlock(file, at))))).ToList();
        var usageBefore = Storage.Usage().ToDictionary(u => u.File);

        Storage.Pack(cut);
        Storage.Reclaim();

        foreach (var (at, b, file, data, rev, last) in before)
        {
            Assert.Equal(data, ReadAll(Storage, file, b, at));
            Assert.Equal(rev, Storage.BlockRevAt(file, b, at));
            Assert.Equal(last, Storage.LastBlock(file, at));
        }
        var usageAfter = Storage.Usage().ToDictionary(u => u.File);
        Assert.Equal(usageBefore[f].HeadBytes, usageAfter[f].HeadBytes);
        Assert.True(usageAfter[f].HistoryBytes < usageBefore[f].HistoryBytes, $"history {usageBefore[f].HistoryBytes} → {usageAfter[f].HistoryBytes}");
        Assert.Equal(usageBefore[g], usageAfter[g]); // g's blocks were each written once: nothing to drop
    }

    [Fact]
    public async Task A_committer_killed_with_SIGKILL_leaves_only_complete_commits()
    {
        const int blocks = 4, size = 256 << 10;
        var f = NewFile(Storage, blockSize: size);
        var start = Storage.LastTid;
        var printed = new List<Tid>();
        using (var child = WcfsCli.Start("debug", "commit-loop", Url, f.ToString(), "--blocks", blocks.ToString(), "--size", size.ToString()))
        {
            try
            {
                using var cts = new CancellationTokenSource(TestTimeouts.Default);
                while (printed.Count < 8 && await child.StandardOutput.ReadLineAsync(cts.Token) is { } line)
                    printed.Add(Tid.Parse(line));
                if (printed.Count < 8)
                    Assert.Fail($"the committer stopped early: {await child.StandardError.ReadToEndAsync()}");
            }
            finally
            {
                child.Kill(); // SIGKILL, most likely in the middle of a commit
                await child.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            }
        }

        using var s = Second();
        Assert.True(s.LastTid >= printed[^1], "every commit the child saw return must be durable");
        var buf = new byte[size];
        ulong expectedCounter = 1;
        var seen = 0;
        using var cts2 = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var c in s.Changes(start, cts2.Token))
        {
            Assert.Equal(Enumerable.Range(0, blocks).Select(b => (long)b), c.Blocks[f]);
            for (var b = 0; b < blocks; b++)
            {
                Assert.Equal(c.Tid, s.ReadBlock(f, b, c.Tid, buf));
                Assert.True(IsFilledWith(buf, expectedCounter), $"block {b} at {c.Tid} is not completely commit #{expectedCounter}");
            }
            expectedCounter++;
            seen++;
            if (c.Tid == s.LastTid)
                break;
        }
        Output.WriteLine($"child printed {printed.Count} commits, {seen} are visible after SIGKILL");
    }

    private static bool IsFilledWith(byte[] buf, ulong counter)
    {
        for (var off = 0; off + 8 <= buf.Length; off += 8)
            if (BinaryPrimitives.ReadUInt64LittleEndian(buf.AsSpan(off)) != counter)
                return false;
        return true;
    }
}
