// MountpointCommand - `wcfs mountpoint <url>`: prints where the server of <url> is mounted.
using System.CommandLine;

namespace Wcfs.Host.Cli;

internal static class MountpointCommand
{
    public static Command Create()
    {
        var url = ServeCli.UrlArgument();
        var config = ServeCli.ConfigOption();
        var cmd = new Command("mountpoint", "print the mountpoint of the WCFS server of a storage URL") { url, config };
        cmd.SetAction(pr =>
        {
            var s = ServeCli.LoadSettings(pr.GetValue(config));
            if (s is null)
                return WcfsCommandLine.ExitUsage;
            Console.WriteLine(ServeCli.Mountpoint(ServeCli.Url(pr.GetValue(url), s), s, null));
            return WcfsCommandLine.ExitOk;
        });
        return cmd;
    }
}
