// StatsCommand - `wcfs stats <url> [--count N] [--interval DUR]`: a live view of a WCFS server, one
// line per interval (default 1 s) like `juicefs stats` / vmstat: rates from two reads of the
// server's .wcfs/stats (ServerStats counters only grow), the pin round trip over the server's
// latest round trips, and the gauges (links, watches, head). The header repeats every 20 lines.
// Runs until Ctrl-C, or N lines with --count (tests use it). Exit 1 with one line on stderr when
// the server does not answer.
//
//       time  reads/s    MiB/s  pins/s  rtt p50  rtt p99  links  watches  kills  head at
//   22:41:03       12     24.0       3   16.3us   59.8us      2        3      0  18ec6d5c1a636670
using System.CommandLine;
using System.Globalization;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Diagnostics;

namespace Wcfs.Host.Cli;

internal static class StatsCommand
{
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(5);
    private const int HeaderEvery = 20;

    public static Command Create()
    {
        var url = ServeCli.UrlArgument();
        var config = ServeCli.ConfigOption();
        var mountpoint = new Option<string?>("--mountpoint") { Description = "the server's mountpoint if not the default" };
        var count = new Option<int?>("--count") { Description = "print this many lines, then exit (default: until Ctrl-C)" };
        var interval = new Option<string>("--interval") { Description = "time between lines (default 1s)", DefaultValueFactory = _ => "1s" };
        var cmd = new Command("stats", "live view of the WCFS server of a storage: reads/s, pins/s, pin round trip, links, kills, head")
        {
            url, mountpoint, config, count, interval,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            var s = ServeCli.LoadSettings(pr.GetValue(config));
            if (s is null)
                return WcfsCommandLine.ExitUsage;
            var every = pr.GetValue(interval)!;
            if (!DurationText.TryParse(every, out var period) || period <= TimeSpan.Zero)
            {
                await Console.Error.WriteLineAsync($"wcfs: invalid --interval \"{every}\": expected a positive duration such as 1s or 500ms");
                return WcfsCommandLine.ExitUsage;
            }
            if (pr.GetValue(count) is <= 0)
            {
                await Console.Error.WriteLineAsync("wcfs: --count must be at least 1");
                return WcfsCommandLine.ExitUsage;
            }
            var u = ServeCli.Url(pr.GetValue(url), s);
            var mnt = ServeCli.Mountpoint(u, s, pr.GetValue(mountpoint));
            try
            {
                await RunAsync(mnt, period, pr.GetValue(count), Console.Out, ct);
                return WcfsCommandLine.ExitOk;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return WcfsCommandLine.ExitOk;
            }
            catch (Exception e) when (e is IOException or TimeoutException)
            {
                await Console.Error.WriteLineAsync($"wcfs: the server at {mnt} does not answer ({e.Message}): see `wcfs status {u}`");
                return WcfsCommandLine.ExitFailure;
            }
        });
        return cmd;
    }

    /// <summary>Prints <paramref name="lines"/> lines (null: until cancelled), one per period.</summary>
    private static async Task RunAsync(string mountpoint, TimeSpan period, int? lines, TextWriter o, CancellationToken ct)
    {
        var prev = await ServerCheck.ReadStatsAsync(mountpoint, StatsTimeout, ct);
        using var timer = new PeriodicTimer(period);
        for (var i = 0; lines is null || i < lines; i++)
        {
            await timer.WaitForNextTickAsync(ct);
            var cur = await ServerCheck.ReadStatsAsync(mountpoint, StatsTimeout, ct);
            if (i % HeaderEvery == 0)
                await o.WriteLineAsync(Header);
            await o.WriteLineAsync(Line(prev, cur));
            prev = cur;
        }
    }

    public const string Header = "    time  reads/s    MiB/s  pins/s    rtt p50    rtt p99  links  watches  kills  head at";

    /// <summary>One line of the view: rates between two samples, gauges of the later one.</summary>
    public static string Line(ServerStatsSample a, ServerStatsSample b)
    {
        var dt = Math.Max((b.TakenUtc - a.TakenUtc).TotalSeconds, 1e-3);
        double Rate(string name) => Math.Max(0, b.Long(name) - a.Long(name)) / dt;
        static string Us(double v) => v == 0 ? "-" : v.ToString("0.0", CultureInfo.InvariantCulture) + "us";
        return string.Create(CultureInfo.InvariantCulture,
            $"{b.TakenUtc.ToLocalTime():HH:mm:ss} {Rate("read"),8:0} {Rate("readbytes") / (1 << 20),8:0.0} {Rate("pin"),7:0} " +
            $"{Us(b.Double("pinrtt.recent.p50us")),10} {Us(b.Double("pinrtt.recent.p99us")),10} {b.Long("WatchLink"),6} {b.Long("Watch"),8} " +
            $"{b.Long("pinkill"),6}  {b.Text("headat") ?? "?"}");
    }
}
