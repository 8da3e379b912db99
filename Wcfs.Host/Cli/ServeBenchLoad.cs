// ServeBenchLoad - the WCFS server cases of `wcfs bench` about load and idleness (issue 11):
//   idle      the server's CPU time with no client and no commit, over 60 s (quick: 10 s) in 3
//             windows (median, min–max), as % of one core, next to the 0.5 % budget; then the same
//             after the server timed a pin, with the client's watch link left open at rest: an idle
//             server must sleep (no polls, no short timers). Measured after a settling time (40 s;
//             quick: 2 s) for the start-up JIT work.
//   pin-load  the server's pin round trip (p50, p99) while 4 threads stream another file through
//             head/, next to the same figures on the same kind of server with no readers.
// BenchStream is the streaming load: readers read a file in 1 MiB reads and drop its page cache
// after every pass (posix_fadvise DONTNEED), so every pass is served by the server.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Cli;

/// <summary>Readers streaming one file through a mount until stopped (see the file comment).</summary>
internal sealed class BenchStream : IDisposable
{
    private readonly Thread[] _threads;
    private volatile bool _stop;
    private long _bytes;
    private Exception? _error;

    private BenchStream(string path, int readers)
    {
        _threads = [.. Enumerable.Range(0, readers).Select(i => new Thread(() => Run(path, i)) { IsBackground = true, Name = "bench-stream-" + i })];
        foreach (var t in _threads)
            t.Start();
    }

    /// <summary>Bytes read so far by all readers.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Stores a file of <paramref name="size"/> bytes in 2 MiB blocks (BenchPattern bytes); returns its oid.</summary>
    public static Oid Store(IStorage s, long size)
    {
        const int bs = 2 << 20;
        var oid = s.NewOid();
        s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(bs))], []);
        var data = new byte[bs];
        for (long blk = 0; blk < size / bs; blk += 16)
        {
            var writes = new List<BlockWrite>();
            for (var b = blk; b < Math.Min(blk + 16, size / bs); b++)
            {
                BenchPattern.Fill(data, b * bs);
                writes.Add(new BlockWrite(oid, b, data.ToArray()));
            }
            s.Commit(s.LastTid, [], writes);
        }
        return oid;
    }

    public static BenchStream Start(string path, int readers) => new(path, readers);

    private void Run(string path, int index)
    {
        try
        {
            using var h = File.OpenHandle(path, options: FileOptions.SequentialScan);
            var size = RandomAccess.GetLength(h);
            var buf = new byte[1 << 20];
            // Readers start at different offsets so that they do not all wait on one block.
            var start = size / _threads.Length * index / buf.Length * buf.Length;
            while (!_stop)
            {
                for (long i = 0; i < size && !_stop; i += buf.Length)
                {
                    var off = (start + i) % size;
                    var n = RandomAccess.Read(h, buf, off);
                    Interlocked.Add(ref _bytes, n);
                }
                _ = Libc.DropPageCache(h); // POSIX_FADV_DONTNEED: the next pass reaches the server
            }
        }
        catch (Exception e) when (!_stop)
        {
            _error = e;
        }
    }

    /// <summary>Stops the readers and returns the bytes they read; throws if one failed.</summary>
    public long Stop()
    {
        _stop = true;
        foreach (var t in _threads)
            if (!t.Join(TimeSpan.FromSeconds(60)))
                throw new CommandException($"streaming reader {t.Name} did not stop within 60 s");
        if (_error is not null)
            throw new CommandException($"a streaming reader failed: {_error.Message}");
        return Bytes;
    }

    public void Dispose()
    {
        _stop = true;
        foreach (var t in _threads)
            t.Join(TimeSpan.FromSeconds(60));
    }
}

internal sealed class BenchIdle : IBenchCase
{
    /// <summary>The budget of issue 11: an idle server uses at most this much of one core.</summary>
    private const double BudgetPercent = 0.5;

    public string Name => "idle";
    public string Description => "CPU of a server with no clients and no commits (% of one core) vs the 0.5 % budget";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var window = TimeSpan.FromSeconds(ctx.Quick ? 10.0 / 3 : 20);
        var url = "sqlite://" + Path.Combine(ctx.TempDir, "db.sqlite");
        Oid oid;
        using (var s = StorageFactory.Open(url))
        {
            oid = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(4096))], [new BlockWrite(oid, 0, new byte[] { 1 })]);
        }
        await using var server = await BenchServer.StartAsync(url, Path.Combine(ctx.TempDir, "mnt"));
        // why: start-up work settles first: tiered compilation re-JITs the methods that the change
        // stream's 1 s safety check calls (30 calls each), ~0.6 % of a core for the first ~30 s.
        await Task.Delay(TimeSpan.FromSeconds(ctx.Quick ? 2 : 40), ct);
        var fresh = await WindowsAsync(server.Pid, window, ct);
        ctx.Log.WriteLine($"  server CPU per {window.TotalSeconds:0.#} s window, no client yet: {Show(fresh)}");

        // The same server after it served: commits, a pin it timed (the pin timeout is the first thing
        // that starts the actor system's scheduler) and a client's watch link left open at rest.
        var head = Path.Combine(server.Mountpoint, "head", "bigfile", oid.ToString());
        _ = File.Exists(head); // a lookup: a watch needs a file the server knows
        Tid at1, at2;
        using (var s = StorageFactory.Open(url))
        {
            at1 = s.Commit(s.LastTid, [], [new BlockWrite(oid, 0, new byte[] { 2 })]);
            at2 = s.Commit(s.LastTid, [], [new BlockWrite(oid, 0, new byte[] { 3 })]);
        }
        var atFile = Path.Combine(server.Mountpoint, "head", "at");
        await BenchWait.UntilAsync(() => File.ReadAllText(atFile) == at2.ToString(), TimeSpan.FromSeconds(60), $"head/at to show {at2}", ct, TimeSpan.FromMilliseconds(10)); // why: bench poll, bounded, named
        var pins = Pins(server.Mountpoint);
        using var link = new BenchAckingLink(server.Mountpoint, oid, at1);
        using (var h = File.OpenHandle(head, options: FileOptions.RandomAccess))
            RandomAccess.Read(h, new byte[4096], 0); // block 0 changed after the link's at: the server pins it (at the watch or before this read)
        await BenchWait.UntilAsync(() => Pins(server.Mountpoint) > pins, TimeSpan.FromSeconds(30), "the server to count a pin to the watching link", ct, TimeSpan.FromMilliseconds(10)); // why: bench poll, bounded, named
        await Task.Delay(TimeSpan.FromSeconds(ctx.Quick ? 1 : 5), ct); // why: the read's follow-up work settles before the windows
        var used = await WindowsAsync(server.Pid, window, ct);
        ctx.Log.WriteLine($"  server CPU per {window.TotalSeconds:0.#} s window, after a pin, a watch link open at rest: {Show(used)}");
        return
        [
            BenchResult.FromReps(Name, $"server CPU, idle {3 * window.TotalSeconds:0} s, vs budget", "% of a core", fresh, [BudgetPercent, BudgetPercent, BudgetPercent], false),
            BenchResult.FromReps(Name, $"server CPU, idle {3 * window.TotalSeconds:0} s after a pin, a link open, vs budget", "% of a core", used, [BudgetPercent, BudgetPercent, BudgetPercent], false),
        ];
    }

    /// <summary>The server's CPU in 3 consecutive windows, as % of one core.</summary>
    private static async Task<List<double>> WindowsAsync(int pid, TimeSpan window, CancellationToken ct)
    {
        var percents = new List<double>();
        for (var r = 0; r < 3; r++)
        {
            var cpu0 = ProcessCpu(pid);
            var t0 = Stopwatch.GetTimestamp();
            await Task.Delay(window, ct); // why: idleness is CPU over a span of wall time
            var wall = Stopwatch.GetElapsedTime(t0);
            percents.Add((ProcessCpu(pid) - cpu0).TotalSeconds / wall.TotalSeconds * 100);
        }
        return percents;
    }

    private static string Show(List<double> percents) =>
        string.Join(", ", percents.Select(p => p.ToString("0.000", CultureInfo.InvariantCulture) + " %"));

    private static long Pins(string mountpoint) =>
        long.Parse(DemoData.Stat(mountpoint, "pin") ?? throw new CommandException($"bench idle: no pin line in {mountpoint}/.wcfs/stats"), CultureInfo.InvariantCulture);

    /// <summary>utime + stime of a process (/proc/PID/stat, clock ticks of 10 ms).</summary>
    internal static TimeSpan ProcessCpu(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state): utime is field 14, stime field 15
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0);
    }
}

internal sealed class BenchPinLoad : IBenchCase
{
    public string Name => "pin-load";
    public string Description => "pin round trip on the server while 4 readers stream through head/ vs the same with no readers";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var n = ctx.Quick ? 100 : 1000;
        var idleDir = Path.Combine(ctx.TempDir, "idle");
        var loadDir = Path.Combine(ctx.TempDir, "load");
        // Each is a mount root (its server mounts at <dir>/mnt): private, as the server demands.
        Wcfs.Actors.Protocol.PrivateFiles.EnsurePrivateDirectory(idleDir);
        Wcfs.Actors.Protocol.PrivateFiles.EnsurePrivateDirectory(loadDir);
        var idle = await BenchPin.MeasureAsync(ctx, idleDir, n, readers: 0, ct);
        var load = await BenchPin.MeasureAsync(ctx, loadDir, n, readers: 4, ct);
        return
        [
            new BenchResult(Name, "pin round trip p50 (server), 4 readers vs none", "µs", load.ServerP50, idle.ServerP50, false),
            new BenchResult(Name, "pin round trip p99 (server), 4 readers vs none", "µs", load.ServerP99, idle.ServerP99, false),
            new BenchResult(Name, "head read with pin p50, 4 readers vs none", "µs", load.ClientP50, idle.ClientP50, false),
        ];
    }
}
