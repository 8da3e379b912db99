// BenchReaders - the `readers` case of `wcfs bench` (TESTING.md §4, last case): N processes
// reading the same array through WCFS, memory used together vs one process alone.
//
// A `wcfs serve` child serves a fresh SQLite database holding a ZBigArray<double> of 1 GiB
// (--quick: 32 MiB) under the demo's root name; the readers are `wcfs demo worker` processes
// (DemoWorker.cs, started through DemoCommand.Worker): each opens its own Database/Connection over
// the server, maps the whole array through ZBigArray views and sums it, then keeps its mappings
// until we stop it. PSS is read (DemoData.Pss) while every reader of the round still holds its
// mappings: first one reader alone (baseline), then N readers together (default 4, --quick: 2).
// Figures: the PSS of the WCFS-mapped part (shared page cache: ideal ratio ≈ 1 vs one reader) and
// of the whole processes (each .NET runtime has its own private heap, so this ratio is larger),
// each also next to "N private copies" (N × one reader).
using System.Globalization;
using Akka.Configuration;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using System.Runtime.InteropServices;

namespace Wcfs.Host.Cli;

internal sealed class BenchReaders : IBenchCase
{
    private static readonly TimeSpan ReaderTimeout = TimeSpan.FromMinutes(3);

    public string Name => "readers";
    public string Description => "N reader processes mapping the same array through WCFS: PSS together vs one reader";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var size = ctx.Quick ? 32L << 20 : 1L << 30;
        var n = ctx.Quick ? 2 : 4;
        var blockSize = ZBigFile.DefaultBlockSize;
        var blocks = size / blockSize;
        var url = "sqlite://" + Path.Combine(ctx.TempDir, "db.sqlite");
        StorageFactory.Open(url).Dispose(); // the server needs the database file
        await using var server = await BenchServer.StartAsync(url, Path.Combine(ctx.TempDir, "mnt"));
        var mnt = server.Mountpoint;

        // the array, written through views over WCFS and committed, as the demo does
        using (var system = DemoCommand.QuietSystem(ConfigurationFactory.ParseString("wcfs.autostart = off")))
        {
            await using var db = await Database.OpenAsync(url, new DatabaseOptions
            {
                System = system,
                Wcfs = new WcfsClientOptions { Mountpoint = mnt, Autostart = false },
            });
            await using var conn = await db.OpenConnectionAsync();
            var (array, _, _) = await DemoCommand.CreateArrayAsync(conn, size / sizeof(double));
            var perBlock = blockSize / sizeof(double);
            for (var b = 0L; b < blocks; b++)
            {
                using (var view = array.View(new Slice(b * perBlock, (b + 1) * perBlock)))
                    DemoData.FillBlock(MemoryMarshal.AsBytes(view.AsSpan()), b, 0);
                if (b % 16 == 15 || b == blocks - 1)
                    await conn.CommitAsync();
            }
        }
        ctx.Log.WriteLine($"  stored {DemoData.Bytes(size)} array");

        var one = await RoundAsync(1, url, mnt, blocks, ctx.Log);
        var all = await RoundAsync(n, url, mnt, blocks, ctx.Log);
        static double MiB(long kib) => kib / 1024.0;
        return
        [
            new BenchResult(Name, $"WCFS-mapped PSS: {n} readers together vs 1 reader", "MiB", MiB(all.WcfsKiB), MiB(one.WcfsKiB), false),
            new BenchResult(Name, $"WCFS-mapped PSS: {n} readers together vs {n} private copies", "MiB", MiB(all.WcfsKiB), MiB(one.WcfsKiB * n), false),
            new BenchResult(Name, $"process PSS: {n} readers together vs 1 reader", "MiB", MiB(all.TotalKiB), MiB(one.TotalKiB), false),
            new BenchResult(Name, $"process PSS: {n} readers together vs {n} private copies", "MiB", MiB(all.TotalKiB), MiB(one.TotalKiB * n), false),
        ];
    }

    /// <summary>Starts <paramref name="count"/> readers, waits until each read the whole array, sums their PSS, stops them.</summary>
    private static async Task<(long TotalKiB, long WcfsKiB)> RoundAsync(int count, string url, string mnt, long blocks, TextWriter log)
    {
        var readers = new List<DemoCommand.Worker>();
        try
        {
            for (var i = 0; i < count; i++)
                readers.Add(DemoCommand.Worker.Start(i, url, mnt, blocks));
            var done = Task.WhenAll(readers.Select(r => r.Result));
            if (await Task.WhenAny(done, Task.Delay(ReaderTimeout)) != done)
                throw new CommandException($"bench readers: {count} readers did not read the array within {ReaderTimeout.TotalMinutes:0} min");
            var results = await done; // rethrows a reader's own failure
            long total = 0, wcfs = 0;
            foreach (var r in readers)
            {
                var pss = DemoData.Pss(r.Pid, mnt) ?? throw new CommandException($"bench readers: reader {r.Index} (pid {r.Pid}) exited before its PSS was read");
                total += pss.TotalKiB;
                wcfs += pss.WcfsKiB;
            }
            var seconds = results.Max(x => x.Seconds);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {count} reader(s): read {DemoData.Bytes(results.Sum(x => (double)x.Bytes))} in {seconds:0.00} s; PSS {DemoData.Bytes(total * 1024.0)}, WCFS-mapped {DemoData.Bytes(wcfs * 1024.0)}"));
            return (total, wcfs);
        }
        finally
        {
            foreach (var r in readers)
                await r.StopAsync();
        }
    }
}
