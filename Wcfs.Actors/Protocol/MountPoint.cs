// MountPoint - where the WCFS server of a storage URL is mounted and how to tell whether it runs
// (PROTOCOL.md §5).
//
//   mountpoint = <mount-root>/<first 16 hex digits of sha1(normalized url)>
//   lock file  = <mountpoint>.lock   (held by the serving process for its lifetime)
//   pid file   = <mountpoint>.pid    (the serving process id, for status/stop)
//
// A server is found by opening <mnt>/.wcfs/zurl: success → running; ENOENT → none; ENOTCONN or
// ECONNABORTED → a crashed server's stale mount (to be unmounted before a new server starts).
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Protocol;

/// <summary>What a probe of a mountpoint found.</summary>
public enum ServerState
{
    /// <summary>No server and no mount.</summary>
    None,
    /// <summary>A server answers <c>.wcfs/zurl</c>.</summary>
    Running,
    /// <summary>A mount whose server is gone (ENOTCONN/ECONNABORTED).</summary>
    Stale,
    /// <summary>The probe did not answer in time (a hung server).</summary>
    Hung,
}

/// <summary>The mountpoint rule and server discovery (PROTOCOL.md §5).</summary>
public static partial class MountPoint
{
    private const int ENOTCONN = (int)Mono.Unix.Native.Errno.ENOTCONN, ECONNABORTED = (int)Mono.Unix.Native.Errno.ECONNABORTED;

    /// <summary>
    /// The canonical form of a storage URL: a SQLite URL or plain path becomes
    /// <c>sqlite://</c> + absolute path; a PostgreSQL URL becomes the storage's
    /// <see cref="Storage.IStorage.Url"/> (no password, explicit port); other URLs are trimmed.
    /// </summary>
    public static string NormalizeUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var u = url.Trim();
        if (u.StartsWith("sqlite://", StringComparison.OrdinalIgnoreCase))
            return "sqlite://" + Path.GetFullPath(u["sqlite://".Length..]);
        if (!u.Contains("://", StringComparison.Ordinal))
            return "sqlite://" + Path.GetFullPath(u);
        if (Storage.PostgresUrl.Handles(u))
            return Storage.PostgresUrl.Parse(u).Url; // what the server's .wcfs/zurl shows: no password, explicit port
        return u;
    }

    /// <summary>The mountpoint of <paramref name="url"/> under <paramref name="mountRoot"/>.</summary>
    public static string For(string url, string mountRoot)
    {
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes(NormalizeUrl(url)));
        return Path.Combine(mountRoot, Convert.ToHexStringLower(hash)[..16]);
    }

    /// <summary>The lock file that makes one of several racing starters the server.</summary>
    public static string LockPath(string mountpoint) => mountpoint.TrimEnd('/') + ".lock";

    /// <summary>The file holding the serving process id.</summary>
    public static string PidPath(string mountpoint) => mountpoint.TrimEnd('/') + ".pid";

    /// <summary>The server's process id from the pid file, or null.</summary>
    public static int? ServerPid(string mountpoint)
    {
        try
        {
            return int.TryParse(File.ReadAllText(PidPath(mountpoint)).Trim(), out var pid) ? pid : null;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>
    /// Opens <c>&lt;mnt&gt;/.wcfs/zurl</c> and reads it, waiting at most <paramref name="timeout"/>.
    /// Returns the state and, when running, the URL the server serves.
    /// </summary>
    public static async Task<(ServerState State, string? Url)> ProbeAsync(string mountpoint, TimeSpan timeout)
    {
        var probe = Task.Factory.StartNew(() => ProbeBlocking(mountpoint), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var done = await Task.WhenAny(probe, Task.Delay(timeout)).ConfigureAwait(false);
        return done == probe ? await probe.ConfigureAwait(false) : (ServerState.Hung, null);
    }

    private static (ServerState, string?) ProbeBlocking(string mountpoint)
    {
        var fd = Libc.OpenReadOnly(Path.Combine(mountpoint, ".wcfs", "zurl"));
        if (fd < 0)
        {
            var errno = Libc.Errno();
            return errno is ENOTCONN or ECONNABORTED ? (ServerState.Stale, null) : (ServerState.None, null);
        }
        try
        {
            var buf = new byte[4096];
            var n = Libc.Read(fd, buf);
            if (n < 0)
            {
                var errno = Libc.Errno();
                return errno is ENOTCONN or ECONNABORTED ? (ServerState.Stale, null) : (ServerState.None, null);
            }
            return (ServerState.Running, Encoding.UTF8.GetString(buf, 0, (int)n));
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Detaches a (stale) mount; true if something was unmounted. Needs root or fusermount3.</summary>
    public static bool Unmount(string mountpoint)
    {
        if (Libc.UnmountDetach(mountpoint) == 0)
            return true;
        try
        {
            using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("fusermount3", ["-u", "-z", mountpoint])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            });
            if (p is null)
                return false;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>True if <paramref name="path"/> is a mountpoint (listed in /proc/self/mountinfo).</summary>
    public static bool IsMounted(string path) => MountDevice(path) is not null;

    /// <summary>The "major:minor" of the mount at <paramref name="path"/> from /proc/self/mountinfo, or null.</summary>
    public static string? MountDevice(string path)
    {
        var full = Path.GetFullPath(path).TrimEnd('/');
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var f = line.Split(' ');
            if (f.Length > 4 && UnescapeMountPath(f[4]) == full)
                return f[2];
        }
        return null;
    }

    private static string UnescapeMountPath(string s) =>
        s.Replace("\\040", " ", StringComparison.Ordinal).Replace("\\011", "\t", StringComparison.Ordinal)
         .Replace("\\012", "\n", StringComparison.Ordinal).Replace("\\134", "\\", StringComparison.Ordinal);
}
