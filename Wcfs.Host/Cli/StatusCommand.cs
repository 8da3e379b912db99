// StatusCommand - `wcfs status <url>`: checks the mount, the server process, and that .wcfs/stats
// answers within 5 s (PROTOCOL.md §5). Prints one "ok - ..." or "fail - ..." line per check.
using System.CommandLine;
using Wcfs.Actors.Protocol;

namespace Wcfs.Host.Cli;

internal static class StatusCommand
{
    public static Command Create()
    {
        var url = ServeCli.UrlArgument();
        var config = ServeCli.ConfigOption();
        var mountpoint = new Option<string?>("--mountpoint") { Description = "the server's mountpoint if not the default" };
        var cmd = new Command("status", "check the WCFS server of a storage: mount, process, stats") { url, mountpoint, config };
        cmd.SetAction(async (pr, ct) =>
        {
            var s = ServeCli.LoadSettings(pr.GetValue(config));
            if (s is null)
                return WcfsCommandLine.ExitUsage;
            var mnt = ServeCli.Mountpoint(ServeCli.Url(pr.GetValue(url), s), s, pr.GetValue(mountpoint));
            var ok = true;
            void Report(bool good, string what)
            {
                Console.WriteLine((good ? "ok - " : "fail - ") + what);
                ok &= good;
            }
            Report(MountPoint.IsMounted(mnt), $"mount {mnt}");
            var pid = MountPoint.ServerPid(mnt);
            using (var server = MountPoint.OpenServer(mnt))
                Report(server is not null, pid is null ? "server process (no pid file)"
                    : server is null ? $"server process {pid} (the pid file is stale: not the server of this mount)"
                    : $"server process {pid}");
            var stats = Task.Run(() => File.ReadAllText(Path.Combine(mnt, ".wcfs", "stats")), ct);
            var answered = await Task.WhenAny(stats, Task.Delay(TimeSpan.FromSeconds(5), ct)) == stats && stats.IsCompletedSuccessfully;
            Report(answered, answered ? ".wcfs/stats answers" : ".wcfs/stats does not answer within 5s");
            return ok ? WcfsCommandLine.ExitOk : WcfsCommandLine.ExitFailure;
        });
        return cmd;
    }
}
