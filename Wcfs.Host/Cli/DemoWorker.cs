// DemoWorker - hidden `wcfs demo worker`: one worker process of `wcfs demo`.
//
// Joins the running WCFS server (no autostart: the demo started it), connects at the server's
// head — its snapshot — maps the array's ZBigFile through the WCFS client (a Mapping: the native
// pinner re-maps blocks the demo changes meanwhile to @<snapshot>), sums every element, and prints
// two lines on stdout:
//   at <tid>                                  once connected
//   result <tid> <sum> <bytes> <seconds>      after the sum (sum is an exact integer, see DemoData)
// Then it keeps the mapping until stdin closes, so the demo can read its PSS while all workers
// hold their mappings, and exits 0. Any failure: one line on stderr, exit 1.
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Cli;

internal static class DemoWorker
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Required = true };
        var mnt = new Option<string>("--mountpoint") { Required = true };
        var oid = new Option<string>("--oid") { Required = true };
        var blocks = new Option<long>("--blocks") { Required = true };
        var cmd = new Command("worker", "a worker process of wcfs demo") { Hidden = true };
        cmd.Options.Add(url);
        cmd.Options.Add(mnt);
        cmd.Options.Add(oid);
        cmd.Options.Add(blocks);
        cmd.SetAction(r => CliErrors.RunAsync(() => RunAsync(r.GetValue(url)!, r.GetValue(mnt)!,
            StorageArguments.ParseOid(r.GetValue(oid)!), r.GetValue(blocks))));
        return cmd;
    }

    private static async Task<int> RunAsync(string url, string mountpoint, Oid oid, long blocks)
    {
        try
        {
            await using var client = await WcfsClient.JoinAsync(url, new WcfsClientOptions { Mountpoint = mountpoint, Autostart = false });
            await using var conn = await client.ConnectAsync();
            Console.Out.WriteLine($"at {conn.At}");
            Console.Out.Flush();
            await using var file = await conn.OpenAsync(oid);
            using var mapping = await file.MmapAsync(0, blocks);
            var sw = Stopwatch.StartNew();
            double sum = 0;
            for (var b = 0L; b < blocks; b++)
                sum += DemoData.Sum(mapping.Block(b));
            var seconds = sw.Elapsed.TotalSeconds;
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"result {conn.At} {(long)sum} {blocks * file.BlockSize} {seconds:0.000}"));
            Console.Out.Flush();
            // hold the mapping until the demo has read our memory figures
            await Console.In.ReadToEndAsync();
            return 0;
        }
        catch (Exception e) when (e is WcfsClientException or TimeoutException)
        {
            throw new CommandException($"demo worker: {e.Message}");
        }
    }
}
