// BenchLmdb - the `lmdb` case of `wcfs bench` (issue 11): the demo's job on the peer a .NET user
// would pick for "many processes read one big transactional dataset through shared memory".
//
// The job, on both sides: fill a float64 array of 1 GiB (quick: 32 MiB) stored as 2 MiB values,
// committing every 16 blocks; then 4 reader processes each sum the whole array at their own read
// snapshot while a writer commits 4 blocks every 100 ms; report the fill rate, the readers' total
// throughput (bytes summed / slowest reader's time) and their PSS together (while they still hold
// their mappings).
//   WCFS side: `wcfs demo --size S --workers 4 --url sqlite://...` as a child process (its
//              summary lines are parsed), its autostarted server (mount root in the repetition's
//              directory) stopped afterwards.
//   LMDB side: LightningDB (one environment, 2 MiB values keyed by the big-endian block number,
//              default durability: fsync at commit); readers are `wcfs lmdb-reader` processes
//              (hidden command below) reading values in place from LMDB's map (no copy).
//   SQLite side: the fill alone as raw INSERTs of the same bytes (one 2 MiB blob per row, the same
//              16 blocks per transaction, the commit case's pragmas: WAL, synchronous=FULL, 64 KiB
//              pages) into a plain file: what the storage below the demo can do at best.
// LightningDB's bundled liblmdb needs glibc 2.38; Debian's liblmdb0 (scripts/setup.sh) is loaded
// instead through a DllImport resolver. Each figure is the median of 3 repetitions, min–max shown
// (--quick: one repetition).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using LightningDB;
using Wcfs.Actors.Hosting;

namespace Wcfs.Host.Cli;

internal sealed partial class BenchLmdb : IBenchCase
{
    private const int BlockSize = 2 << 20, ChunkBlocks = 16, BlocksPerChange = 4, Readers = 4;
    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(10);

    public string Name => "lmdb";
    public string Description => "the demo job (fill, 4 readers while a writer commits) on WCFS vs on LMDB (LightningDB)";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var size = ctx.Quick ? 32L << 20 : 1L << 30;
        var demo = new List<JobFigures>();
        var lmdb = new List<JobFigures>();
        var raw = new List<double>();
        var reps = ctx.Quick ? 1 : 3; // quick is CI's smoke run: one repetition of the small job
        ctx.Log.WriteLine(BenchVirtmemData.HugePagesLine()); // the demo's fill takes them for its dirty pages
        for (var r = 0; r < reps; r++)
        {
            var dir = Path.Combine(ctx.TempDir, "rep" + r);
            Directory.CreateDirectory(dir);
            // why sync(2) before each job: the one before leaves up to a GiB of dirty page cache, whose
            // writeback would slow the next job's fsyncs; why the order rotates per repetition: on this
            // VM's disk later jobs of a run were slower (the demo's fill measured 162–190 MB/s in the
            // bench, 220–247 alone; LMDB's 389 in a first job, 160 in a later one)
            Func<Task>[] jobs =
            [
                async () => demo.Add(await DemoJobAsync(dir, size, ct)),
                async () => lmdb.Add(await LmdbJobAsync(dir, size, ct)),
                () => { raw.Add(RawInsertFill(dir, size)); return Task.CompletedTask; },
            ];
            for (var j = 0; j < jobs.Length; j++)
            {
                Mono.Unix.Native.Syscall.sync();
                await jobs[(j + r) % jobs.Length]();
            }
            ctx.Log.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  rep {r + 1}: demo {demo[^1]}; lmdb {lmdb[^1]}; raw SQLite INSERT fill {raw[^1]:0} MB/s"));
            Directory.Delete(dir, recursive: true); // its GiBs of page cache go with it
        }
        return
        [
            BenchResult.FromReps(Name, "fill (view writes + commits) vs LMDB puts + commits", "MB/s", [.. demo.Select(f => f.FillMBs)], [.. lmdb.Select(f => f.FillMBs)], true) with { Goal = 0.8 },
            BenchResult.FromReps(Name, "fill (view writes + commits) vs raw SQLite INSERT of the same bytes", "MB/s", [.. demo.Select(f => f.FillMBs)], raw, true) with { Goal = 0.6 },
            BenchResult.FromReps(Name, $"{Readers} readers' total throughput vs LMDB readers", "MB/s", [.. demo.Select(f => f.ReadMBs)], [.. lmdb.Select(f => f.ReadMBs)], true),
            BenchResult.FromReps(Name, $"{Readers} readers' PSS together vs LMDB readers", "MiB", [.. demo.Select(f => f.PssMiB)], [.. lmdb.Select(f => f.PssMiB)], false),
        ];
    }

    private sealed record JobFigures(double FillMBs, double ReadMBs, double PssMiB)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"fill {FillMBs:0} MB/s, read {ReadMBs:0} MB/s, PSS {PssMiB:0} MiB");
    }

    // ---- WCFS: the demo job -------------------------------------------------------------------

    private static async Task<JobFigures> DemoJobAsync(string dir, long size, CancellationToken ct)
    {
        var url = "sqlite://" + Path.Combine(dir, "demo.sqlite");
        // the autostarted server mounts under the repetition's directory: its lock, pid and log files go
        // with it, instead of piling up in the user's mount root (one set per repetition of every run)
        var config = Path.Combine(dir, "demo.conf");
        await File.WriteAllTextAsync(config, $"wcfs.mount-root = \"{Path.Combine(dir, "mnt")}\"\n", ct);
        var (code, output) = await RunSelfAsync(["demo", "--size", (size >> 20).ToString(CultureInfo.InvariantCulture) + "MiB", "--workers", Readers.ToString(CultureInfo.InvariantCulture), "--url", url, "--config", config], ct);
        try
        {
            if (code != 0)
                throw new CommandException($"wcfs demo exited with {code}: {output.Trim()}");
            var fill = FillLine().Match(output);
            var read = ReadLine().Match(output);
            var pss = PssLine().Match(output);
            if (!fill.Success || !read.Success || !pss.Success)
                throw new CommandException($"cannot find the fill/throughput/memory lines in the output of wcfs demo: {output.Trim()}");
            var pssMiB = double.Parse(pss.Groups[1].Value, CultureInfo.InvariantCulture) * (pss.Groups[2].Value == "GiB" ? 1024 : 1);
            return new JobFigures(double.Parse(fill.Groups[1].Value, CultureInfo.InvariantCulture), double.Parse(read.Groups[1].Value, CultureInfo.InvariantCulture), pssMiB);
        }
        finally
        {
            await RunSelfAsync(["stop", url, "--config", config], CancellationToken.None); // the demo's autostarted server
        }
    }

    [GeneratedRegex(@"filled .* \((\d+) MB/s")]
    private static partial Regex FillLine();

    [GeneratedRegex(@"workers read .* at (\d+) MB/s")]
    private static partial Regex ReadLine();

    [GeneratedRegex(@"workers' PSS together ([0-9.]+) (GiB|MiB)")]
    private static partial Regex PssLine();

    private static async Task<(int Code, string Output)> RunSelfAsync(string[] args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(typeof(BenchLmdb).Assembly.Location);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(RuntimeKnobs.ApplyTo(psi)) ?? throw new CommandException("cannot start wcfs " + args[0]);
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(JobTimeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new CommandException($"wcfs {args[0]} did not finish within {JobTimeout.TotalMinutes:0} min");
        }
        return (p.ExitCode, await stdout + await stderr);
    }

    // ---- SQLite: the fill as raw INSERTs --------------------------------------------------------

    /// <summary>MB/s of the fill as raw INSERTs of the same values into a plain SQLite file (see the file comment).</summary>
    private static double RawInsertFill(string dir, long size)
    {
        var path = Path.Combine(dir, "raw.sqlite");
        var blocks = size / BlockSize;
        var data = new byte[BlockSize];
        double mbs;
        using (var raw = new RawBlobInserts(path))
        {
            var sw = Stopwatch.StartNew();
            for (long b = 0; b < blocks; b += ChunkBlocks)
            {
                raw.Begin();
                for (var k = b; k < Math.Min(b + ChunkBlocks, blocks); k++)
                {
                    DemoData.FillBlock(data, k, 0);
                    raw.Insert(k, data);
                }
                raw.Commit();
            }
            mbs = size / sw.Elapsed.TotalSeconds / 1e6;
        }
        return mbs; // the file stays with the repetition's others: deleting a GiB on this disk (ext4, discard) slowed the jobs after it
    }

    // ---- LMDB: the same job ---------------------------------------------------------------------

    private static async Task<JobFigures> LmdbJobAsync(string dir, long size, CancellationToken ct)
    {
        UseSystemLmdb();
        var path = Path.Combine(dir, "lmdb");
        Directory.CreateDirectory(path);
        var blocks = size / BlockSize;
        using var env = new LightningEnvironment(path, new EnvironmentConfiguration { MapSize = 4 * size + (1L << 30), MaxReaders = 126 });
        env.Open();
        var data = new byte[BlockSize];
        var sw = Stopwatch.StartNew();
        for (long b = 0; b < blocks; b += ChunkBlocks)
        {
            using var tx = env.BeginTransaction();
            using var db = tx.OpenDatabase(configuration: new DatabaseConfiguration { Flags = DatabaseOpenFlags.Create });
            for (var k = b; k < Math.Min(b + ChunkBlocks, blocks); k++)
            {
                DemoData.FillBlock(data, k, 0);
                Check(tx.Put(db, Key(k), data), "put");
            }
            Check(tx.Commit(), "commit");
        }
        var fill = size / sw.Elapsed.TotalSeconds / 1e6;

        var readers = Enumerable.Range(0, Readers).Select(_ => StartReader(path, blocks)).ToList();
        try
        {
            var results = readers.Select(r => r.StandardOutput.ReadLineAsync(ct).AsTask()).ToList();
            var all = Task.WhenAll(results);
            var deadline = DateTime.UtcNow + JobTimeout;
            var rnd = new Random(11);
            var version = 1;
            while (!all.IsCompleted)
            {
                if (DateTime.UtcNow > deadline)
                    throw new CommandException($"the LMDB readers did not report within {JobTimeout.TotalMinutes:0} min");
                using (var tx = env.BeginTransaction())
                using (var db = tx.OpenDatabase())
                {
                    version++;
                    for (var i = 0; i < BlocksPerChange; i++)
                    {
                        var k = rnd.NextInt64(blocks);
                        DemoData.FillBlock(data, k, version);
                        Check(tx.Put(db, Key(k), data), "put");
                    }
                    Check(tx.Commit(), "commit");
                }
                await Task.WhenAny(all, Task.Delay(100, ct)); // why: the job's writer commits every 100 ms
            }
            double bytes = 0, seconds = 0, pssKiB = 0;
            foreach (var (r, line) in readers.Zip(await all))
            {
                var parts = (line ?? throw new CommandException($"an LMDB reader exited early: {r.StandardError.ReadToEnd()}")).Split(' ');
                bytes += double.Parse(parts[1], CultureInfo.InvariantCulture);
                seconds = Math.Max(seconds, double.Parse(parts[2], CultureInfo.InvariantCulture));
                pssKiB += DemoData.Pss(r.Id, path)?.TotalKiB ?? 0;
            }
            return new JobFigures(fill, bytes / seconds / 1e6, pssKiB / 1024);
        }
        finally
        {
            foreach (var r in readers)
            {
                r.StandardInput.Close(); // the reader exits at EOF
                if (!r.WaitForExit(TimeSpan.FromSeconds(30)))
                    r.Kill();
                r.Dispose();
            }
        }
    }

    private static Process StartReader(string path, long blocks)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardInput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(typeof(BenchLmdb).Assembly.Location);
        psi.ArgumentList.Add("lmdb-reader");
        psi.ArgumentList.Add(path);
        psi.ArgumentList.Add(blocks.ToString(CultureInfo.InvariantCulture));
        return Process.Start(RuntimeKnobs.ApplyTo(psi)) ?? throw new CommandException("cannot start an LMDB reader"); // as the demo's workers
    }

    private static byte[] Key(long blk)
    {
        var k = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(k, blk);
        return k;
    }

    private static void Check(MDBResultCode rc, string what)
    {
        if (rc != MDBResultCode.Success)
            throw new CommandException($"LMDB {what} failed: {rc}");
    }

    private static int s_resolver;

    /// <summary>Loads Debian's liblmdb.so.0 for LightningDB (its bundled build needs glibc 2.38).</summary>
    internal static void UseSystemLmdb()
    {
        if (Interlocked.Exchange(ref s_resolver, 1) != 0)
            return;
        NativeLibrary.SetDllImportResolver(typeof(LightningEnvironment).Assembly, (name, _, _) =>
        {
            if (name != "lmdb")
                return 0;
            try
            {
                return NativeLibrary.Load("liblmdb.so.0");
            }
            catch (DllNotFoundException)
            {
                throw new CommandException("liblmdb.so.0 not found: install Debian's liblmdb0 (scripts/setup.sh)");
            }
        });
    }

    /// <summary>The hidden `wcfs lmdb-reader DIR BLOCKS`: one LMDB reader process of the lmdb case.</summary>
    public static Command ReaderCommand()
    {
        var path = new Argument<string>("dir");
        var blocks = new Argument<long>("blocks");
        var cmd = new Command("lmdb-reader", "a reader process of wcfs bench lmdb") { Hidden = true };
        cmd.Arguments.Add(path);
        cmd.Arguments.Add(blocks);
        cmd.SetAction(r => CliErrors.RunAsync(() => Task.FromResult(Read(r.GetValue(path)!, r.GetValue(blocks)))));
        return cmd;
    }

    /// <summary>Sums the array at one read snapshot, prints "sum BYTES SECONDS", keeps the mapping until stdin ends.</summary>
    private static int Read(string path, long blocks)
    {
        UseSystemLmdb();
        using var env = new LightningEnvironment(path, new EnvironmentConfiguration { MaxReaders = 126 });
        env.Open();
        var sw = Stopwatch.StartNew();
        double sum = 0;
        long bytes = 0;
        using (var tx = env.BeginTransaction(TransactionBeginFlags.ReadOnly))
        using (var db = tx.OpenDatabase())
        {
            for (long b = 0; b < blocks; b++)
            {
                var (rc, _, value) = tx.Get(db, Key(b));
                Check(rc, "get");
                var doubles = MemoryMarshal.Cast<byte, double>(value.AsSpan());
                foreach (var d in doubles)
                    sum += d;
                bytes += doubles.Length * sizeof(double);
            }
        }
        var seconds = sw.Elapsed.TotalSeconds;
        Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{sum} {bytes} {seconds}"));
        Console.Out.Flush();
        Console.In.ReadToEnd();
        return 0;
    }
}
