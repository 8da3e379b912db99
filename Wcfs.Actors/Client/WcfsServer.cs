// WcfsServer - finding the WCFS server of a storage and starting one if none runs (autostart,
// PROTOCOL.md §5). Used by the client (WcfsClient.JoinAsync) and by tools.
//
// Start: `wcfs serve <url>` as a detached process (own session, output appended to
// <mountpoint>.log); then wait until <mnt>/.wcfs/zurl answers with the URL. Racing starters are
// fine: the server's lock file lets one of them serve, the others exit, and every caller waits for
// the same mount. The `wcfs` tool is found as: $WCFS_EXE (a wcfs.dll or an executable), else
// wcfs.dll next to the application, else `wcfs` on PATH.
using System.Diagnostics;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Client;

/// <summary>Discovery and autostart of the WCFS server of a storage URL.</summary>
public static class WcfsServer
{
    /// <summary>
    /// Returns the mountpoint of a running server for <paramref name="url"/>, starting one if none
    /// runs (a stale mount of a crashed server is cleaned up by the new server).
    /// </summary>
    /// <exception cref="TimeoutException">No server answered within <paramref name="timeout"/> (default 30 s).</exception>
    /// <exception cref="InvalidOperationException">The mountpoint is served for another URL.</exception>
    /// <exception cref="UnsafePathException">The mount root or its log file is not private to the user.</exception>
    public static async Task<string> EnsureRunningAsync(string url, WcfsSettings? settings = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var s = settings ?? WcfsSettings.Default;
        var normalized = MountPoint.NormalizeUrl(url);
        var mnt = MountPoint.For(url, s.MountRoot);
        var (state, served) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (state == ServerState.Running)
            return Check(mnt, served, normalized);
        PrivateFiles.EnsurePrivateDirectory(s.MountRoot);
        Start(url, mnt, s);
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (state, served) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            if (state == ServerState.Running)
                return Check(mnt, served, normalized);
            await Task.Delay(20, cancellationToken).ConfigureAwait(false);
        }
        throw new TimeoutException($"the WCFS server for {UrlRedaction.Redact(url)} did not start within {timeout ?? TimeSpan.FromSeconds(30)}: see {mnt}.log");
    }

    private static string Check(string mnt, string? served, string normalized)
    {
        if (served is not null && MountPoint.NormalizeUrl(served) != normalized)
            throw new InvalidOperationException($"{mnt} serves {served}, not {UrlRedaction.Redact(normalized)}: remove the stale mount or use another mount-root");
        return mnt;
    }

    private static void Start(string url, string mnt, WcfsSettings s)
    {
        // The log is created private (0600, never through a symlink) before the shell appends to it;
        // the root was checked private, so nobody else can swap it in between (PrivateFiles.cs).
        PrivateFiles.OpenPrivate(mnt + ".log", append: true).Dispose();
        var (file, args) = WcfsCommand();
        string[] serve = ["serve", url, "--mountpoint", mnt, "--pin-timeout", DurationText.Format(s.Server.PinTimeout)];
        var quoted = string.Join(' ', new[] { file }.Concat(args).Concat(serve).Select(Quote));
        var psi = new ProcessStartInfo("/bin/sh", ["-c", $"setsid {quoted} >>{Quote(mnt + ".log")} 2>&1 </dev/null &"])
        {
            UseShellExecute = false,
        };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot run /bin/sh to start the WCFS server");
        p.WaitForExit();
    }

    private static (string File, string[] Args) WcfsCommand()
    {
        var exe = Environment.GetEnvironmentVariable("WCFS_EXE");
        if (string.IsNullOrEmpty(exe))
        {
            var local = Path.Combine(AppContext.BaseDirectory, "wcfs.dll");
            exe = File.Exists(local) ? local : "wcfs";
        }
        return exe.EndsWith(".dll", StringComparison.Ordinal) ? ("dotnet", [exe]) : (exe, []);
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
