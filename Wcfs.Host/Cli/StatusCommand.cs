// StatusCommand - `wcfs status <url>`: the server's state and figures as a table, one line per
// check: "ok - <check> <what was found>" or "fail - <check> <the problem>: <what to do>"
// (API.md §4; the checks are Wcfs.Actors' ServerCheck, shared with the runtime's health check).
// Exit status 0 if every check is ok, 1 otherwise.
using System.CommandLine;
using Wcfs.Actors.Diagnostics;

namespace Wcfs.Host.Cli;

internal static class StatusCommand
{
    /// <summary>How long a server may take to answer .wcfs/stats before it counts as hung.</summary>
    private static readonly TimeSpan StatsTimeout = TimeSpan.FromSeconds(5);

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
            return lines.All(l => l.Ok) ? WcfsCommandLine.ExitOk : WcfsCommandLine.ExitFailure;
        });
        return cmd;
    }

    /// <summary>The table: "ok - name   detail" / "fail - name   detail", names padded to one column.</summary>
    public static string Format(IReadOnlyList<ServerCheckLine> lines)
    {
        var w = lines.Max(l => l.Name.Length);
        return string.Concat(lines.Select(l => $"{(l.Ok ? "ok" : "fail")} - {l.Name.PadRight(w)}  {l.Detail}\n"));
    }
}
