// StopCommand - `wcfs stop <url>`: stops the server and unmounts within 25 s (PROTOCOL.md §5):
// SIGTERM and wait, then SIGKILL and a forced (lazy) unmount.
using System.CommandLine;
using System.Diagnostics;
using Wcfs.Native.Interop;
using Wcfs.Actors.Protocol;

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
            Process? proc = null;
            if (MountPoint.ServerPid(mnt) is { } pid)
            {
                try { proc = Process.GetProcessById(pid); } catch (ArgumentException) { }
            }
            if (proc is null && !MountPoint.IsMounted(mnt))
            {
                Console.Error.WriteLine($"wcfs: no server runs at {mnt}");
                return WcfsCommandLine.ExitFailure;
            }
            if (proc is not null)
            {
                Libc.Kill(proc.Id, Libc.SIGTERM);
                using var soft = CancellationTokenSource.CreateLinkedTokenSource(ct);
                soft.CancelAfter(TimeSpan.FromSeconds(15));
                try { await proc.WaitForExitAsync(soft.Token); }
                catch (OperationCanceledException)
                {
                    Console.Error.WriteLine($"wcfs: server {proc.Id} did not stop within 15s; killing it");
                    Libc.Kill(proc.Id, Libc.SIGKILL);
                    using var hard = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    try { await proc.WaitForExitAsync(hard.Token); } catch (OperationCanceledException) { }
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
