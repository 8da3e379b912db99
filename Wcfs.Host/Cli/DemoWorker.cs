// DemoWorker - hidden `wcfs demo worker`: one worker process of `wcfs demo`.
//
// Opens the database with a WCFS session on the running server (no autostart: the demo started
// it), opens a Connection at head — its snapshot — and sums the array named "demo-array" through
// ZBigArray views (pages of the WCFS file; the native pinner re-maps blocks the demo changes
// meanwhile to the snapshot's data). Prints two lines on stdout:
//   at <tid>                                  once connected
//   result <tid> <sum> <bytes> <seconds>      after the sum (sum is an exact integer, see DemoData)
// Then it keeps its views until stdin closes, so the demo can read its PSS while all workers hold
// their mappings, and exits 0. Any failure: one line on stderr, exit 1.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Cli;

internal static class DemoWorker
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Required = true };
        var mnt = new Option<string>("--mountpoint") { Required = true };
        var blocks = new Option<long>("--blocks") { Required = true };
        var cmd = new Command("worker", "a worker process of wcfs demo") { Hidden = true };
        cmd.Options.Add(url);
        cmd.Options.Add(mnt);
        cmd.Options.Add(blocks);
        cmd.SetAction(r => CliErrors.RunAsync(() => RunAsync(r.GetValue(url)!, r.GetValue(mnt)!,
            r.GetValue(blocks))));
        return cmd;
    }

    private const int ChunkBlocks = 16;

    private static async Task<int> RunAsync(string url, string mountpoint, long blocks)
    {
        try
        {
            using var system = DemoCommand.QuietSystem(ConfigurationFactory.ParseString("wcfs.autostart = off"));
            await using var db = await Database.OpenAsync(url, new DatabaseOptions
            {
                System = system,
                Wcfs = new WcfsClientOptions { Mountpoint = mountpoint, Autostart = false },
            });
            await using var conn = await db.OpenConnectionAsync();
            Console.Out.WriteLine($"at {conn.At}");
            Console.Out.Flush();
            var array = conn.Root.Get<ZBigArray<double>>(DemoCommand.RootName);
            await array.OpenAsync(); // loaded from the root: open its file before taking views
            var elements = array.File.BlockSize / sizeof(double);
            var sw = Stopwatch.StartNew();
            var views = new List<ArrayView<double>>();
            double sum = 0;
            try
            {
                for (var b = 0L; b < blocks; b += ChunkBlocks)
                {
                    var view = array.View(new Slice(b * elements, Math.Min(blocks, b + ChunkBlocks) * elements));
                    views.Add(view); // kept mapped until the demo read our PSS
                    sum += DemoData.Sum(MemoryMarshal.AsBytes(view.AsSpan()));
                }
                var seconds = sw.Elapsed.TotalSeconds;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"result {conn.At} {(long)sum} {blocks * array.File.BlockSize} {seconds:0.000}"));
                Console.Out.Flush();
                await Console.In.ReadToEndAsync();
            }
            finally
            {
                foreach (var v in views)
                    v.Dispose();
            }
            return 0;
        }
        catch (Exception e) when (e is WcfsClientException or TimeoutException or NotSupportedException or KeyNotFoundException)
        {
            throw new CommandException($"demo worker: {e.Message}");
        }
    }
}
