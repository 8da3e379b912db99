// StopCommand - `wcfs stop <url>`: stops the server and unmounts within 25 s (PROTOCOL.md §5):
// SIGTERM and wait, then SIGKILL and a forced (lazy) unmount. Signals go only to the verified
// server of the mount, through a pidfd (never to whatever process a stale pid file names).
using System.CommandLine;
using Wcfs.Actors.Protocol;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Cli;

internal static class StopCommand
{
    public static Command Create()
    {
        var url = ServeCli.UrlArgument();
        var config = ServeCli.ConfigOption();
        var mountpoint = new Option<string?>("--mountpoint") { Description = "the server's mountpoint if not the default" };
        var cmd = new Command("stop", "stop the WCFS server of a storage and unmount") { url, mountpoint, config };
        cmd.SetAction(async (pr, ct) =>
        {
            var s = ServeCli.LoadSettings(pr.GetValue(config));
            if (s is null)
                return WcfsCommandLine.ExitUsage;
            var mnt = ServeCli.Mountpoint(ServeCli.Url(pr.GetValue(url), s), s, pr.GetValue(mountpoint));
            // The pid file is a hint: only a process that is the server of this mount (a live
            // `wcfs serve` holding its lock) is signalled, through a pidfd (MountPoint.OpenServer).
            using var server = MountPoint.OpenServer(mnt);
            if (server is null && MountPoint.ServerPid(mnt) is { } stale)
                Console.Error.WriteLine($"wcfs: ignoring {MountPoint.PidPath(mnt)}: process {stale} is not the server of {mnt}");
            if (server is null && !MountPoint.IsMounted(mnt))
            {
                Console.Error.WriteLine($"wcfs: no server runs at {mnt}");
                return WcfsCommandLine.ExitFailure;
            }
            if (server is not null)
            {
                server.Signal(Libc.SIGTERM);
                if (!await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(15)), ct))
                {
                    Console.Error.WriteLine($"wcfs: server {server.Pid} did not stop within 15s; killing it");
                    server.Signal(Libc.SIGKILL);
                    await Task.Run(() => server.WaitForExit(TimeSpan.FromSeconds(5)), ct);
                }
            }
            if (MountPoint.IsMounted(mnt))
                MountPoint.Unmount(mnt);
            if (MountPoint.IsMounted(mnt))
            {
                Console.Error.WriteLine($"wcfs: {mnt} is still mounted; unmount it with fusermount3 -u -z {mnt}");
                return WcfsCommandLine.ExitFailure;
            }
            return WcfsCommandLine.ExitOk;
        });
        return cmd;
    }
}
