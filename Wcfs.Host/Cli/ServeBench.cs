// ServeBench - the WCFS server cases of `wcfs bench` (issue 4 "Performance"):
//   fuse-read    1 GiB (quick: 64 MiB) in 2 MiB blocks, mmap + touch every 4 KiB page, through
//                head/ (cold: nothing of it in the page cache; the SQLite file is) vs the same
//                bytes in a tmpfs file, vs a minimal C FUSE server serving them from memory
//                (tests/fuse_memserver.c; same 4 MiB readahead, same 1 MiB requests); warm: a pass
//                over a fresh mapping of the cached file vs the same on tmpfs. Each repetition
//                starts a fresh server (ours and the C one) and reads the file twice cold: "first
//                read after start" (the .NET server still JIT-compiles its read path then) and,
//                after the file's pages are dropped (posix_fadvise DONTNEED, checked by mincore),
//                "cold" on the running server, which is what a long-lived server does. Each figure
//                is the median of 3 repetitions, min–max shown.
//   pin          pin round trip as measured on the server (pin queued → ack processed, .wcfs/stats)
//                while this process reads blocks through head/ and acks from a link thread;
//                baseline: a read() of the same size through @rev/ (no pin).
//   commit-head  commit → head/at shows the tid, vs commit → the storage's change stream delivers it.
// The server runs as a child process (`wcfs serve`); this process only maps and reads.
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Wcfs.Native.Interop;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Server;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

/// <summary>The bytes every fuse-read variant serves (same function in tests/fuse_memserver.c).</summary>
internal static class BenchPattern
{
    public static byte At(long off) => (byte)((off >> 12) * 31 + off);

    public static void Fill(Span<byte> dest, long off)
    {
        for (var i = 0; i < dest.Length; i++)
            dest[i] = At(off + i);
    }
}

/// <summary>A `wcfs serve` child process on a bench database.</summary>
internal sealed class BenchServer : IAsyncDisposable
{
    private readonly Process _p;

    private BenchServer(Process p, string mnt) { _p = p; Mountpoint = mnt; }

    public string Mountpoint { get; }

    /// <summary>The server's process id.</summary>
    public int Pid => _p.Id;

    /// <param name="url">The storage.</param>
    /// <param name="mnt">The mountpoint.</param>
    /// <param name="extra">More arguments of `wcfs serve`.</param>
    /// <param name="prefetch">wcfs.server.prefetch-committed. Off for the cases that measure how the
    /// server serves a block that is not cached (cold reads, pins on read): with it on, the server
    /// reads committed blocks itself, and a later watch setup pins them all at once.</param>
    public static async Task<BenchServer> StartAsync(string url, string mnt, string extra = "", bool prefetch = true)
    {
        // the one launcher (WcfsServer), running this very tool
        var self = new WcfsTool("dotnet", [typeof(BenchServer).Assembly.Location], "this wcfs");
        var request = new WcfsServer.Request(url, mnt, WcfsSettings.Default.Server with { PrefetchCommitted = prefetch })
        {
            ExtraArguments = extra.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        };
        var (psi, settingsFile) = WcfsServer.StartInfo(request, self);
        psi.RedirectStandardError = true;
        psi.RedirectStandardOutput = true;
        var p = Process.Start(psi) ?? throw new CommandException("cannot start wcfs serve");
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while ((await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5))).State != ServerState.Running)
        {
            if (p.HasExited || DateTime.UtcNow > deadline)
                throw new CommandException(p.HasExited ? $"wcfs serve exited (code {p.ExitCode}) before serving {mnt}" : $"wcfs serve did not serve {mnt} within 60 s");
            await Task.Delay(20); // why: bench wait for a foreign process; bounded
        }
        File.Delete(settingsFile);
        return new BenchServer(p, mnt);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_p.HasExited)
        {
            ProcessHandle.SignalChild(_p, Libc.SIGTERM); // a pidfd: never a reused pid
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try { await _p.WaitForExitAsync(cts.Token); } catch (OperationCanceledException) { _p.Kill(); }
        }
        if (MountPoint.IsMounted(Mountpoint))
            MountPoint.Unmount(Mountpoint);
        _p.Dispose();
    }
}

internal static partial class BenchMap
{
    /// <summary>
    /// Drops the file's pages from the page cache (nothing may map it now) and checks by mincore
    /// that none is left, so the next pass reads through the file system again.
    /// </summary>
    public static void DropPages(string path, long size)
    {
        using var h = File.OpenHandle(path);
        if (Libc.DropPageCache(h) is var rc and not 0)
            throw new CommandException($"posix_fadvise DONTNEED {path}: errno {rc}");
        var p = Libc.Mmap(0, (nuint)size, 1, 1, (int)h.DangerousGetHandle(), 0);
        if (p == -1)
            throw new CommandException($"mmap {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var vec = new byte[(size + 4095) / 4096];
            if (Libc.Mincore(p, (nuint)size, vec) != 0)
                throw new CommandException($"mincore {path}: errno {Libc.Errno()}");
            if (vec.Count(b => (b & 1) != 0) is var left and > 0)
                throw new CommandException($"{left} pages of {path} stayed in the page cache after posix_fadvise DONTNEED: a cold pass would not be cold");
        }
        finally
        {
            Libc.Munmap(p, (nuint)size);
        }
    }

    /// <summary>
    /// Maps path read-only (a fresh mapping), touches every 4 KiB page once and unmaps: GB/s. Checks
    /// a few bytes against BenchPattern.
    /// </summary>
    public static unsafe double Touch(string path, long size)
    {
        using var h = File.OpenHandle(path);
        var p = Libc.Mmap(0, (nuint)size, 1, 1, (int)h.DangerousGetHandle(), 0);
        if (p == -1)
            throw new CommandException($"mmap {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var b = (byte*)p;
            long sum = 0;
            var sw = Stopwatch.StartNew();
            for (long off = 0; off < size; off += 4096)
                sum += b[off];
            var t = sw.Elapsed.TotalSeconds;
            if (sum == -1) Console.Error.Write("");
            foreach (var off in new[] { 0L, 4097, size / 2 + 13, size - 1 })
                if (b[off] != BenchPattern.At(off))
                    throw new CommandException($"wrong byte at {off} of {path}: {b[off]} != {BenchPattern.At(off)}");
            return size / 1e9 / t;
        }
        finally
        {
            Libc.Munmap(p, (nuint)size);
        }
    }
}

internal sealed class BenchFuseRead : IBenchCase
{
    public string Name => "fuse-read";
    public string Description => "mmap read of 1 GiB through head/ (cold, warm) vs tmpfs mmap and a minimal C FUSE server";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var size = ctx.Quick ? 64L << 20 : 1L << 30;
        const int bs = 2 << 20;
        var url = "sqlite://" + Path.Combine(ctx.TempDir, "db.sqlite");
        Oid oid;
        using (var s = StorageFactory.Open(url))
        {
            oid = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(bs))], []);
            const int perCommit = 32;
            for (long blk = 0; blk < size / bs; blk += perCommit)
            {
                var writes = new List<BlockWrite>();
                for (var b = blk; b < Math.Min(blk + perCommit, size / bs); b++)
                {
                    var data = new byte[bs];
                    BenchPattern.Fill(data, b * bs);
                    writes.Add(new BlockWrite(oid, b, data));
                }
                s.Commit(s.LastTid, [], writes);
            }
        }
        ctx.Log.WriteLine($"  stored {size >> 20} MiB");

        const int reps = 3;
        double[] first = new double[reps], cold = new double[reps], warm = new double[reps], tmpCold = new double[reps], tmpWarm = new double[reps];
        var memFirst = new List<double>();
        var memCold = new List<double>();
        var head = "";
        for (var r = 0; r < reps; r++)
        {
            await using (var server = await BenchServer.StartAsync(url, Path.Combine(ctx.TempDir, "mnt"), prefetch: false))
            {
                head = Path.Combine(server.Mountpoint, "head", "bigfile", oid.ToString());
                first[r] = BenchMap.Touch(head, size);
                BenchMap.DropPages(head, size);
                cold[r] = BenchMap.Touch(head, size);
                warm[r] = BenchMap.Touch(head, size); // a fresh mapping over the cached pages
                ctx.Log.WriteLine($"  rep {r + 1}: head/ first read after start {first[r]:0.000} GB/s, cold {cold[r]:0.000} GB/s, warm {warm[r]:0.00} GB/s");
            }
        }

        var shm = Path.Combine("/dev/shm", $"wcfs-bench-{Environment.ProcessId}.dat");
        try
        {
            using (var f = new FileStream(shm, FileMode.Create))
            {
                var buf = new byte[bs];
                for (long off = 0; off < size; off += bs)
                {
                    BenchPattern.Fill(buf, off);
                    f.Write(buf);
                }
            }
            for (var r = 0; r < reps; r++)
            {
                tmpCold[r] = BenchMap.Touch(shm, size);
                tmpWarm[r] = BenchMap.Touch(shm, size);
            }
        }
        finally
        {
            File.Delete(shm);
        }
        var results = new List<BenchResult>
        {
            BenchResult.FromReps(Name, "cold mmap read vs tmpfs", "GB/s", cold, tmpCold, true),
        };
        if (FindMemServer() is { } memserver)
        {
            for (var r = 0; r < reps; r++)
            {
                var (f, c) = await MemServerColdAsync(memserver, ctx, size, ct);
                memFirst.Add(f);
                memCold.Add(c);
            }
            results.Add(BenchResult.FromReps(Name, "cold mmap read vs C memory FUSE server", "GB/s", cold, memCold, true) with { Goal = 0.8 });
            results.Add(BenchResult.FromReps(Name, "first read after server start vs C memory FUSE server", "GB/s", first, memFirst, true));
        }
        else
        {
            ctx.Log.WriteLine("  fuse_memserver not found (build the solution): C FUSE baseline skipped");
        }
        results.Add(BenchResult.FromReps(Name, "warm mmap read (fresh mapping) vs tmpfs", "GB/s", warm, tmpWarm, true));
        return results;
    }

    /// <summary>
    /// Two cold passes through a fresh mount of the C memory server (4 MiB readahead, as head/): the
    /// first after its start, then one after its pages were dropped (as for head/).
    /// </summary>
    private static async Task<(double First, double Cold)> MemServerColdAsync(string memserver, BenchContext ctx, long size, CancellationToken ct)
    {
        var mnt = Path.Combine(ctx.TempDir, "memmnt");
        Directory.CreateDirectory(mnt);
        using var p = Process.Start(memserver, [mnt, size.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        try
        {
            var data = Path.Combine(mnt, "data");
            await BenchWait.UntilAsync(() => File.Exists(data), TimeSpan.FromSeconds(30), $"the C memory FUSE server to serve {data}", ct, TimeSpan.FromMilliseconds(10)); // why: bench poll, bounded, named
            if (MountPoint.MountDevice(mnt) is { } dev)
                File.WriteAllText($"/sys/class/bdi/{dev}/read_ahead_kb", "4096");
            var first = BenchMap.Touch(data, size);
            BenchMap.DropPages(data, size);
            return (first, BenchMap.Touch(data, size));
        }
        finally
        {
            ProcessHandle.SignalChild(p, Libc.SIGTERM);
            MountPoint.Unmount(mnt);
            p.WaitForExit(5000);
        }
    }

    private static string? FindMemServer()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "Wcfs.Native", "native", "build", "Release", "fuse_memserver");
            if (File.Exists(p))
                return p;
        }
        return null;
    }
}

internal sealed class BenchPin : IBenchCase
{
    public string Name => "pin";
    public string Description => "pin round trip on the server (p50/p99) while a client acks from its link thread";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var f = await MeasureAsync(ctx, ctx.TempDir, ctx.Quick ? 200 : 2000, readers: 0, ct);
        return
        [
            new BenchResult(Name, "pin round trip p50 (server) vs @rev read p50", "µs", f.ServerP50, f.PlainP50, false),
            new BenchResult(Name, "pin round trip p99 (server) vs @rev read p99", "µs", f.ServerP99, f.PlainP99, false),
            new BenchResult(Name, "head read with pin p50 vs @rev read p50", "µs", f.ClientP50, f.PlainP50, false),
        ];
    }

    /// <summary>Figures of one pin run: the server's pin round trip, the client's read with a pin, a read without.</summary>
    internal sealed record PinFigures(double ServerP50, double ServerP99, double ClientP50, double PlainP50, double PlainP99);

    /// <summary>
    /// Starts a server on a fresh database in <paramref name="dir"/>, then reads n blocks through
    /// head/ that each need a pin (a watch at an older revision acks every pin from its link
    /// thread), while <paramref name="readers"/> threads stream another 2 MiB-block file through
    /// head/ (dropping its page cache after every pass, so every pass reaches the server).
    /// </summary>
    internal static async Task<PinFigures> MeasureAsync(BenchContext ctx, string dir, int n, int readers, CancellationToken ct)
    {
        const int bs = 4096;
        var url = "sqlite://" + Path.Combine(dir, "db.sqlite");
        using var s = StorageFactory.Open(url);
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(bs))], []);
        var streamOid = readers > 0 ? BenchStream.Store(s, ctx.Quick ? 32L << 20 : 256L << 20) : default;
        await using var server = await BenchServer.StartAsync(url, Path.Combine(dir, "mnt"), prefetch: false);
        var head = Path.Combine(server.Mountpoint, "head", "bigfile", oid.ToString());
        _ = File.Exists(head);
        BlockWrite[] Writes(string tag) => [.. Enumerable.Range(0, n).Select(b => new BlockWrite(oid, b, Encoding.UTF8.GetBytes(tag + b)))];
        var at1 = s.Commit(s.LastTid, [], Writes("a"));
        var at2 = s.Commit(s.LastTid, [], Writes("b"));
        var atFile = Path.Combine(server.Mountpoint, "head", "at");
        await BenchWait.UntilAsync(() => File.ReadAllText(atFile) == at2.ToString(), TimeSpan.FromSeconds(60), $"head/at to show {at2}", ct, TimeSpan.FromMilliseconds(2)); // why: bench poll, bounded, named

        using var link = new BenchAckingLink(server.Mountpoint, oid, at1);

        using var stream = readers > 0 ? BenchStream.Start(Path.Combine(server.Mountpoint, "head", "bigfile", streamOid.ToString()), readers) : null;
        if (stream is not null)
            await BenchWait.UntilAsync(() => stream.Bytes >= readers * (4L << 20), TimeSpan.FromMinutes(3), $"{readers} streaming readers to read their first 4 MiB", ct, TimeSpan.FromMilliseconds(20)); // why: bench poll, bounded, named
        var withPin = new double[n];
        var plain = new double[n];
        using (var h = File.OpenHandle(head, options: FileOptions.RandomAccess))
        using (var r = File.OpenHandle(Path.Combine(server.Mountpoint, "@" + at2, "bigfile", oid.ToString()), options: FileOptions.RandomAccess))
        {
            var buf = new byte[bs];
            for (var b = 0; b < n; b++)
            {
                var t0 = Stopwatch.GetTimestamp();
                RandomAccess.Read(h, buf, (long)b * bs);
                withPin[b] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                t0 = Stopwatch.GetTimestamp();
                RandomAccess.Read(r, buf, (long)b * bs);
                plain[b] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            }
        }
        var streamed = stream?.Stop() ?? 0;
        var stats = File.ReadAllLines(Path.Combine(server.Mountpoint, ".wcfs", "stats"))
            .Select(l => l.Split("\t: ")).Where(a => a.Length == 2).ToDictionary(a => a[0], a => a[1]);
        if (stream is not null)
            ctx.Log.WriteLine($"  {readers} readers streamed {streamed / 1e9:0.00} GB meanwhile");
        link.Dispose();
        double Stat(string k) => double.Parse(stats[k], System.Globalization.CultureInfo.InvariantCulture);
        ctx.Log.WriteLine($"  pins {stats["pin"]}, client read with pin p50 {Pct(withPin, 0.5):0.0}µs p99 {Pct(withPin, 0.99):0.0}µs; " +
            $"the same block through @rev (no pin) p50 {Pct(plain, 0.5):0.0}µs p99 {Pct(plain, 0.99):0.0}µs");
        return new PinFigures(Stat("pinrtt.p50us"), Stat("pinrtt.p99us"), Pct(withPin, 0.5), Pct(plain, 0.5), Pct(plain, 0.99));
    }

    internal static double Pct(double[] a, double q)
    {
        var c = a.Order().ToArray();
        return c[Math.Min(c.Length - 1, (int)(c.Length * q))];
    }
}

internal sealed class BenchCommitHead : IBenchCase
{
    public string Name => "commit-head";
    public string Description => "commit → head/at latency vs commit → change stream delivery";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var n = ctx.Quick ? 10 : 50;
        var url = "sqlite://" + Path.Combine(ctx.TempDir, "db.sqlite");
        using var s = StorageFactory.Open(url);
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(4096))], []);
        await using var server = await BenchServer.StartAsync(url, Path.Combine(ctx.TempDir, "mnt"));
        var atPath = Path.Combine(server.Mountpoint, "head", "at");
        _ = File.Exists(Path.Combine(server.Mountpoint, "head", "bigfile", oid.ToString()));

        using var listener = StorageFactory.Open(url);
        var arrived = new System.Collections.Concurrent.ConcurrentDictionary<Tid, long>();
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var from = s.LastTid; // before the first commit below, not inside the task (it may start late)
        var listen = Task.Run(async () =>
        {
            try
            {
                await foreach (var rec in listener.Changes(from, cts.Token))
                    arrived[rec.Tid] = Stopwatch.GetTimestamp();
            }
            catch (OperationCanceledException) { }
        }, ct);

        var limit = TimeSpan.FromSeconds(60);
        var toHead = new double[n];
        var toStream = new double[n];
        for (var i = 0; i < n; i++)
        {
            var t0 = Stopwatch.GetTimestamp();
            var tid = s.Commit(s.LastTid, [], [new BlockWrite(oid, i % 8, Encoding.UTF8.GetBytes("x" + i))]);
            var want = tid.ToString();
            var deadline = DateTime.UtcNow + limit;
            while (File.ReadAllText(atPath) != want)
                if (DateTime.UtcNow > deadline)
                    throw new CommandException($"bench gave up after {limit.TotalSeconds:0} s waiting for head/at to show {want} (it shows {File.ReadAllText(atPath)})");
            toHead[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
            await BenchWait.UntilAsync(() => arrived.ContainsKey(tid) || listen.IsCompleted, limit, $"the change stream to deliver {tid}", ct);
            if (listen.IsFaulted)
                throw new CommandException($"the change stream failed: {listen.Exception!.InnerException!.Message}");
            if (!arrived.TryGetValue(tid, out var at))
                throw new CommandException($"the change stream ended before delivering {tid}");
            toStream[i] = (at - t0) * 1e6 / Stopwatch.Frequency;
        }
        await cts.CancelAsync();
        if (!listen.Wait(limit, CancellationToken.None))
            throw new CommandException($"the change stream did not stop within {limit.TotalSeconds:0} s of its cancellation");
        return
        [
            new BenchResult(Name, "commit → head/at p50 vs commit → change stream p50", "µs", BenchPin.Pct(toHead, 0.5), BenchPin.Pct(toStream, 0.5), false),
            new BenchResult(Name, "commit → head/at p99 vs commit → change stream p99", "µs", BenchPin.Pct(toHead, 0.99), BenchPin.Pct(toStream, 0.99), false),
        ];
    }
}

/// <summary>
/// A watch link on a server, watching one file at an older revision, that acks every pin from a
/// thread of its own (as a client's native pinner does). Dispose says bye and waits for the thread.
/// </summary>
internal sealed class BenchAckingLink : IDisposable
{
    private readonly FileStream _link;
    private readonly Thread _acker;
    private int _disposed;

    public BenchAckingLink(string mountpoint, Oid oid, Tid at)
    {
        _link = new FileStream(Path.Combine(mountpoint, "head", "watch"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0);
        _link.Write(Encoding.UTF8.GetBytes($"1 watch {oid} @{at}\n"));
        _acker = new Thread(Ack) { IsBackground = true };
        _acker.Start();
    }

    private void Ack()
    {
        _ = VirtmemNative.RequestShortSlice(); // as the client's native pinner thread does
        var buf = new byte[4096];
        var line = new StringBuilder();
        try
        {
            int got;
            while ((got = _link.Read(buf)) > 0)
            {
                foreach (var ch in Encoding.ASCII.GetString(buf, 0, got))
                {
                    if (ch != '\n') { line.Append(ch); continue; }
                    var text = line.ToString();
                    line.Clear();
                    var sp = text.IndexOf(' ', StringComparison.Ordinal);
                    if (text.AsSpan(sp + 1).StartsWith("pin "))
                        _link.Write(Encoding.ASCII.GetBytes(text[..sp] + " ack\n"));
                }
            }
        }
        catch (IOException) { }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        try { _link.Write(Encoding.ASCII.GetBytes("3 bye\n")); } catch (IOException) { }
        _acker.Join(TimeSpan.FromSeconds(10));
        _link.Dispose();
    }
}
