// StatusCommand - `wcfs status <url>`: the server's state and figures as a table, one line per
// check: "ok - <check> <what was found>" or "fail - <check> <the problem>: <what to do>"
// (API.md §4; the checks are Wcfs.Actors' ServerCheck.RunAsync and the status rule
// WcfsHealth.StatusOf, the same the runtime's health check uses for each server).
// Exit status 0 if the status is healthy, 1 otherwise.
using System.CommandLine;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wcfs.Actors.Diagnostics;

namespace Wcfs.Host.Cli;

internal static class StatusCommand
{
    /// <summary>How long a server may take to answer .wcfs/stats before it counts as hung (the health check's).</summary>
    private static readonly TimeSpan StatsTimeout = WcfsHealth.Timeout;

    public static Command Create()
    {
        var url = ServeCli.UrlArgument();
        var config = ServeCli.ConfigOption();
        var mountpoint = new Option<string?>("--mountpoint") { Description = "the server's mountpoint if not the default" };
        var cmd = new Command("status", "the WCFS server of a storage: mount, process, stats and figures, one line each") { url, mountpoint, config };
        cmd.SetAction(async (pr, ct) =>
        {
            var s = ServeCli.LoadSettings(pr.GetValue(config));
            if (s is null)
                return WcfsCommandLine.ExitUsage;
            var u = ServeCli.Url(pr.GetValue(url), s);
            var mnt = ServeCli.Mountpoint(u, s, pr.GetValue(mountpoint));
            var lines = await ServerCheck.RunAsync(u, mnt, StatsTimeout, ct);
            Console.Write(Format(lines));
            return WcfsHealth.StatusOf(lines) == HealthStatus.Healthy ? WcfsCommandLine.ExitOk : WcfsCommandLine.ExitFailure;
        });
        return cmd;
    }

    /// <summary>The table: "ok - name   detail" / "warn - ..." / "fail - ...", names padded to one column.</summary>
    public static string Format(IReadOnlyList<ServerCheckLine> lines)
    {
        var w = lines.Max(l => l.Name.Length);
        return string.Concat(lines.Select(l => $"{l.Word} - {l.Name.PadRight(w)}  {l.Detail}\n"));
    }
}
