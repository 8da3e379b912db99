// DemoCommand - `wcfs demo [--size S] [--workers N] [--url URL] [--config FILE]`: the main job
// (issue 7 part 3). Shows the whole system on the embedded default: one array in the database,
// served to N worker processes through one shared page cache, each seeing its own snapshot while
// the demo commits changes.
//
// Steps:
//   1. create a ZBigArray<double> of --size bytes (Database/Connection, named "demo-array" in the
//      root), commit; autostart the WCFS server of the storage; drop the blocks of the previous
//      run's array and pack, so repeated runs do not grow the database;
//   2. fill it with generation-0 values (DemoData) in chunks of 16 blocks through views, one
//      Connection commit per chunk, with a progress bar (Spectre.Console; plain lines when stdout is not a terminal);
//   3. start N workers (`wcfs demo worker`, DemoWorker.cs) one after another, committing a change of
//      4 blocks after each worker reported its snapshot, then one change every 100 ms until every
//      worker reported its sum; the demo keeps the expected sum of every revision it committed;
//   4. check each worker's sum against the expected sum of its snapshot, read every worker's PSS
//      while all of them still hold their mappings, read the server's pin counter, print a summary.
// Exit 0 only if every check passed; 1 otherwise (one line per failed check on stderr).
//
// Everything goes through the public API: the demo's Connection (kept in sync with WCFS) writes
// the array through ZBigArray views (dirty pages over the WCFS base layer) and commits; each worker
// opens its own Database/Connection at head and sums the array through views over WCFS pages (the
// native pinner keeps its snapshot while the demo commits). The previous run's blocks are dropped
// with IStorage directly (delete + Pack), which the object API does not offer.
//
// Invariant: every tid a worker can report was committed by this demo (nobody else writes the
// array's file), so expected[tid] exists for it; a missing one is a failed check, not a crash.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using Spectre.Console;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Db;
using Wcfs.Actors.Hosting;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static class DemoCommand
{
    internal const string RootName = "demo-array";
    private const int BlockSize = ZBigFile.DefaultBlockSize;
    private const long Elements = BlockSize / sizeof(double);
    private const int ChunkBlocks = 16;
    private const int BlocksPerChange = 4;
    private const int MaxChanges = 200;
    private static readonly TimeSpan WorkerTimeout = TimeSpan.FromMinutes(5);

    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "array size in bytes, a multiple of 2MiB (e.g. 64MiB, 1GiB)", DefaultValueFactory = _ => "1GiB", HelpName = "S" };
        var workers = new Option<int>("--workers") { Description = "number of worker processes", DefaultValueFactory = _ => 4, HelpName = "N" };
        var url = new Option<string?>("--url") { Description = "storage URL (default: wcfs.storage or the embedded SQLite database in wcfs.data-dir)", HelpName = "URL" };
        var config = StorageArguments.ConfigOption();
        var cmd = new Command("demo", "the main job: an array in the database, read by N worker processes through WCFS while it changes")
        {
            size, workers, url, config,
        };
        cmd.Subcommands.Add(DemoWorker.Create());
        cmd.SetAction(r => CliErrors.RunAsync(async () =>
        {
            if (!SizeText.TryParse(r.GetValue(size), out var bytes) || bytes <= 0 || bytes % BlockSize != 0)
                throw new UsageException($"invalid --size \"{r.GetValue(size)}\": expected a positive multiple of 2MiB");
            var n = r.GetValue(workers);
            if (n is < 1 or > 64)
                throw new UsageException($"invalid --workers {n}: expected 1 to 64");
            var cfg = LoadConfig(r.GetValue(config));
            var u = r.GetValue(url) is { Length: > 0 } given ? given : StorageArguments.DefaultUrl(r.GetValue(config));
            try
            {
                return await RunAsync(u, cfg, bytes, n);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException or Wcfs.Actors.Client.WcfsClientException)
            {
                // the server did not come up, or a worker did not report in time: one line, exit 1
                throw new CommandException(e.Message);
            }
        }));
        return cmd;
    }

    private static Config LoadConfig(string? file)
    {
        if (file is null)
            return Config.Empty; // the runtime adds reference.conf
        return ConfigFile.Parse(file);
    }

    private static async Task<int> RunAsync(string url, Config config, long bytes, int workerCount)
    {
        using var system = QuietSystem(config);
        var settings = WcfsRuntime.Get(system).Settings;
        var blocks = bytes / BlockSize;
        var total = Stopwatch.StartNew();
        Console.Out.WriteLine($"wcfs demo: {DemoData.Bytes(bytes)} array of float64 ({bytes / 8:N0} elements, {blocks} blocks of 2 MiB), {workerCount} workers");
        Console.Out.WriteLine($"  storage     {UrlRedaction.Redact(url)}");

        // 1. the server, then the array object in a connection kept in sync with WCFS
        var mnt = await WcfsServer.EnsureRunningAsync(url, settings);
        Console.Out.WriteLine($"  mountpoint  {mnt} (the server keeps running; stop it with: wcfs stop {UrlRedaction.Redact(url)})");
        await using var db = await Database.OpenAsync(url, new DatabaseOptions
        {
            System = system,
            Wcfs = new WcfsClientOptions { Mountpoint = mnt, Autostart = false },
        });
        await using var conn = await db.OpenConnectionAsync();
        var (array, createdAt, previous) = await CreateArrayAsync(conn, bytes / 8);
        var fileOid = array.File.Oid;
        Console.Out.WriteLine($"  array       ZBigArray<double> {array.Oid} (root name \"{RootName}\"), file {fileOid}, created @{createdAt}");

        using var storage = StorageFactory.Open(url);
        if (previous is { } prev)
            Console.Out.WriteLine($"  previous    array of the last run (file {prev}) dropped: {DemoData.Bytes(DropPrevious(storage, prev))} released");
        var state = new Expected(blocks);

        // 2. fill
        var fillWatch = Stopwatch.StartNew();
        var filledAt = await FillAsync(conn, array, blocks, state);
        var fillSeconds = fillWatch.Elapsed.TotalSeconds;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  filled      @{filledAt} in {fillSeconds:0.0} s ({bytes / fillSeconds / 1e6:0} MB/s: writes through ZBigArray views, {(blocks + ChunkBlocks - 1) / ChunkBlocks} Connection commits)"));
        Console.Out.WriteLine(BenchVirtmemData.HugePagesLine("  huge pages  ") +
            " (README \"Huge pages\")");

        // 3. workers while the array changes
        var pinsBefore = PinCount(mnt);
        var workers = new List<Worker>();
        var failures = new List<string>();
        var changes = 0;
        try
        {
            for (var i = 0; i < workerCount; i++)
            {
                var w = Worker.Start(i, url, mnt, blocks);
                workers.Add(w);
                if (await Task.WhenAny(w.Connected, Task.Delay(WorkerTimeout)) != w.Connected)
                    throw new CommandException($"worker {i} did not connect to the WCFS server within {WorkerTimeout.TotalMinutes:0} min");
                await w.Connected; // rethrows the worker's own failure
                await CommitChangeAsync(conn, array, state, ++changes);
            }
            var deadline = DateTime.UtcNow + WorkerTimeout;
            var all = Task.WhenAll(workers.Select(w => w.Result));
            while (!all.IsCompleted && DateTime.UtcNow < deadline)
            {
                if (changes < MaxChanges)
                    await CommitChangeAsync(conn, array, state, ++changes);
                await Task.WhenAny(all, Task.Delay(100));
            }
            if (!all.IsCompleted)
                throw new CommandException($"the workers did not report their sums within {WorkerTimeout.TotalMinutes:0} min");
            await all; // rethrows the first worker's failure

            // 4. checks and figures, while every worker still holds its mapping
            long pssTotal = 0, pssWcfs = 0;
            foreach (var w in workers)
                if (DemoData.Pss(w.Pid, mnt) is { } p)
                {
                    pssTotal += p.TotalKiB;
                    pssWcfs += p.WcfsKiB;
                }
            var pins = PinCount(mnt) - pinsBefore;
            Console.Out.WriteLine($"  changes     {changes} commits of {BlocksPerChange} blocks each while the workers read");
            double readBytes = 0, readSeconds = 0;
            foreach (var w in workers)
            {
                var r = await w.Result;
                readBytes += r.Bytes;
                readSeconds = Math.Max(readSeconds, r.Seconds);
                var ok = state.BySnapshot.TryGetValue(r.At, out var expected) && expected == r.Sum;
                var exp = state.BySnapshot.TryGetValue(r.At, out var e2) ? e2.ToString(CultureInfo.InvariantCulture) : "none (not a revision of this demo)";
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  worker {w.Index}    @{r.At}: sum {r.Sum} expected {exp} {(ok ? "ok" : "FAILED")} ({r.Bytes / r.Seconds / 1e6:0} MB/s)"));
                if (!ok)
                    failures.Add($"worker {w.Index} @{r.At}: sum {r.Sum}, expected {exp}");
            }
            var distinct = workers.Select(w => w.Result.Result.At).Distinct().Count();
            Console.Out.WriteLine($"  snapshots   {distinct} distinct revisions among {workerCount} workers");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  throughput  fill {bytes / fillSeconds / 1e6:0} MB/s; workers read {DemoData.Bytes(readBytes)} together at {readBytes / readSeconds / 1e6:0} MB/s"));
            Console.Out.WriteLine($"  pins        {(pins is null ? "unknown (no .wcfs/stats)" : pins.Value.ToString(CultureInfo.InvariantCulture))} handled by the workers' pinners (server .wcfs/stats)");
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  memory      workers' PSS together {DemoData.MiB(pssTotal * 1024.0)}, of it WCFS-mapped data {DemoData.MiB(pssWcfs * 1024.0)}; array {DemoData.Bytes(bytes)} ({workerCount} private copies would be {DemoData.Bytes((double)bytes * workerCount)})"));
        }
        finally
        {
            foreach (var w in workers)
                await w.StopAsync();
        }
        foreach (var w in workers)
            if (w.ExitCode is not 0)
                failures.Add($"worker {w.Index} exited with {w.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "no exit (killed)"}: {w.Stderr}");
        Console.Out.WriteLine($"  data lives  {DescribeStorage(url)}; served at {mnt}/head/bigfile/{fileOid}");
        Console.Out.WriteLine("  how         demo and workers use Database/Connection/ZBigArray<double> views; pages come from WCFS");
        Console.Out.WriteLine("              (one shared page cache), writes are dirty pages committed by Connection.CommitAsync");
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  total       {total.Elapsed.TotalSeconds:0.0} s"));
        if (failures.Count == 0)
        {
            Console.Out.WriteLine($"demo: all {workerCount} checks passed");
            return WcfsCommandLine.ExitOk;
        }
        foreach (var f in failures)
            await Console.Error.WriteLineAsync($"wcfs demo: check failed: {f}");
        return WcfsCommandLine.ExitFailure;
    }

    /// <summary>One actor system for the database and its WCFS client, logging warnings and errors only
    /// (the demo's output is its summary).</summary>
    internal static ActorSystem QuietSystem(Config config) =>
        ActorSystem.Create("wcfs-demo", Wcfs.Actors.Hosting.TimerQueueScheduler.For(
            ConfigurationFactory.ParseString("akka { loglevel = WARNING, stdout-loglevel = WARNING }").WithFallback(config)));

    private static string DescribeStorage(string url) =>
        url.StartsWith("sqlite://", StringComparison.Ordinal) ? url["sqlite://".Length..]
        : url.Contains("://", StringComparison.Ordinal) ? url : Path.GetFullPath(url);

    private static long? PinCount(string mnt) =>
        long.TryParse(DemoData.Stat(mnt, "pin"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;

    internal static async Task<(ZBigArray<double> Array, Tid At, Oid? Previous)> CreateArrayAsync(Connection conn, long length)
    {
        Oid? previous = conn.Root.TryGet<ZBigArray<double>>(RootName, out var old) ? old.File.Oid : null;
        var array = ZBigArray<double>.Create(conn, [length], ArrayOrder.C, BlockSize);
        conn.Root[RootName] = array;
        var at = await conn.CommitAsync();
        return (array, at, previous);
    }

    /// <summary>
    /// Deletes every block of the previous run's array file and packs the storage up to that commit,
    /// so running the demo again does not grow the database by the array size each time (the file
    /// object stays, empty). Returns the bytes released.
    /// </summary>
    private static long DropPrevious(IStorage storage, Oid file)
    {
        var at = storage.LastTid;
        var last = storage.LastBlock(file, at);
        if (last < 0)
            return 0;
        var writes = new List<BlockWrite>();
        for (var b = 0L; b <= last; b++)
            writes.Add(new BlockWrite(file, b, null));
        var tid = storage.Commit(at, [], writes);
        storage.Pack(tid);
        return (last + 1) * BlockSize;
    }

    /// <summary>Writes generation 0 into every block through views, ChunkBlocks per commit; returns the last tid.</summary>
    private static async Task<Tid> FillAsync(Connection conn, ZBigArray<double> array, long blocks, Expected state)
    {
        var chunks = (blocks + ChunkBlocks - 1) / ChunkBlocks;
        Tid last = default;
        async Task ChunkAsync(long c)
        {
            var stop = Math.Min(blocks, (c + 1) * ChunkBlocks);
            using (var view = array.View(new Slice(c * ChunkBlocks * Elements, stop * Elements)))
            {
                var bytes = MemoryMarshal.AsBytes(view.AsSpan());
                for (var b = c * ChunkBlocks; b < stop; b++)
                    state.Set(b, DemoData.FillBlock(bytes.Slice((int)((b - c * ChunkBlocks) * BlockSize), BlockSize), b, 0));
            }
            last = await conn.CommitAsync();
        }
        if (Console.IsOutputRedirected)
        {
            for (var c = 0L; c < chunks; c++)
                await ChunkAsync(c);
        }
        else
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var t = ctx.AddTask("fill + commit", maxValue: blocks * (double)BlockSize);
                    for (var c = 0L; c < chunks; c++)
                    {
                        await ChunkAsync(c);
                        t.Increment(Math.Min(ChunkBlocks, blocks - c * ChunkBlocks) * (double)BlockSize);
                    }
                });
        }
        state.Record(last);
        return last;
    }

    /// <summary>Change number <paramref name="k"/>: BlocksPerChange blocks (chosen with seed k) get generation k, one commit.</summary>
    private static async Task CommitChangeAsync(Connection conn, ZBigArray<double> array, Expected state, int k)
    {
        var rnd = new Random(k);
        var chosen = new SortedSet<long>();
        while (chosen.Count < Math.Min(BlocksPerChange, state.Blocks))
            chosen.Add(rnd.NextInt64(state.Blocks));
        var sums = new List<(long, long)>();
        foreach (var b in chosen)
        {
            using var view = array.View(new Slice(b * Elements, (b + 1) * Elements));
            sums.Add((b, DemoData.FillBlock(MemoryMarshal.AsBytes(view.AsSpan()), b, k)));
        }
        var tid = await conn.CommitAsync();
        foreach (var (b, s) in sums)
            state.Set(b, s);
        state.Record(tid);
    }

    /// <summary>Per-block sums of the latest revision and the expected total of every revision committed.</summary>
    private sealed class Expected(long blocks)
    {
        private readonly long[] _blockSums = new long[blocks];
        private long _total;

        public long Blocks => blocks;

        public Dictionary<Tid, long> BySnapshot { get; } = [];

        public void Set(long blk, long sum)
        {
            _total += sum - _blockSums[blk];
            _blockSums[blk] = sum;
        }

        public void Record(Tid tid) => BySnapshot[tid] = _total;
    }

    /// <summary>One worker process and what it reported (also the reader processes of `wcfs bench readers`).</summary>
    internal sealed class Worker
    {
        private readonly Process _process;
        private readonly TaskCompletionSource<Tid> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<(Tid At, long Sum, long Bytes, double Seconds)> _result = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Task<string> _stderr;
        private readonly Task _stdout;

        private Worker(int index, Process process)
        {
            Index = index;
            _process = process;
            Pid = process.Id;
            _stderr = process.StandardError.ReadToEndAsync();
            _stdout = ReadStdoutAsync();
        }

        public int Index { get; }

        public int Pid { get; }

        public Task<Tid> Connected => _connected.Task;

        public Task<(Tid At, long Sum, long Bytes, double Seconds)> Result => _result.Task;

        public int? ExitCode { get; private set; }

        public string Stderr { get; private set; } = "";

        public static Worker Start(int index, string url, string mnt, long blocks)
        {
            var exe = Environment.ProcessPath ?? throw new CommandException("cannot find the wcfs executable to start workers");
            var psi = new ProcessStartInfo(exe)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
                psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
            foreach (var a in new[] { "demo", "worker", "--url", url, "--mountpoint", mnt, "--blocks", blocks.ToString(CultureInfo.InvariantCulture) })
                psi.ArgumentList.Add(a);
            var p = Process.Start(RuntimeKnobs.ApplyTo(psi)) ?? throw new CommandException($"cannot start worker {index} ({exe})");
            return new Worker(index, p);
        }

        private async Task ReadStdoutAsync()
        {
            while (await _process.StandardOutput.ReadLineAsync() is { } line)
            {
                var f = line.Split(' ');
                if (f is ["at", var at] && Tid.TryParse(at, out var t))
                    _connected.TrySetResult(t);
                else if (f is ["result", var rat, var sum, var bytes, var secs] && Tid.TryParse(rat, out var rt))
                    _result.TrySetResult((rt, long.Parse(sum, CultureInfo.InvariantCulture), long.Parse(bytes, CultureInfo.InvariantCulture),
                        double.Parse(secs, CultureInfo.InvariantCulture)));
            }
            var err = (await _stderr).Trim();
            var why = new CommandException($"worker {Index} ended without a result: {(err.Length > 0 ? err : "no message")}");
            _connected.TrySetException(why);
            _result.TrySetException(why);
        }

        /// <summary>Closes its stdin (it exits), waits up to 30 s, else kills it (by its own pid).</summary>
        public async Task StopAsync()
        {
            try
            {
                _process.StandardInput.Close();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(cts.Token);
                ExitCode = _process.ExitCode;
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
            await _stdout;
            Stderr = (await _stderr).Trim();
            _process.Dispose();
        }
    }
}
