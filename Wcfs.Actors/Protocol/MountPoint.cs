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

    /// <summary>
    /// The process id the pid file names, or null (no file, a symlink, another user's file, no
    /// number). A pid file may be stale: <see cref="OpenServer"/> checks that the process serves.
    /// </summary>
    public static int? ServerPid(string mountpoint) =>
        PrivateFiles.ReadPrivate(PidPath(mountpoint)) is { } text && int.TryParse(text.Trim(), out var pid) ? pid : null;

    /// <summary>
    /// The serving process of <paramref name="mountpoint"/> as a pidfd, or null if none. The pid
    /// file is only a hint: the process must be a live `wcfs serve` (its command line) that holds
    /// the flock of the mountpoint's lock file (/proc/locks, by inode), checked after the pidfd was
    /// taken and confirmed still alive after, so a reused pid never passes.
    /// </summary>
    public static Server.ProcessHandle? OpenServer(string mountpoint)
    {
        if (ServerPid(mountpoint) is not { } pid || Server.ProcessHandle.Open(pid) is not { } h)
            return null;
        try
        {
            if (HoldsLock(pid, LockPath(mountpoint)) && IsServeCommand(pid) && !h.HasExited)
            {
                var ok = h;
                h = null;
                return ok;
            }
            return null;
        }
        finally
        {
            h?.Dispose();
        }
    }

    private static bool HoldsLock(int pid, string lockPath)
    {
        if (Mono.Unix.Native.Syscall.lstat(lockPath, out var st) != 0)
            return false;
        var ino = ":" + st.st_ino.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var p = pid.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var line in File.ReadLines("/proc/locks"))
        {
            // "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 6 && f[1] == "FLOCK" && f[4] == p && f[5].EndsWith(ino, StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    private static bool IsServeCommand(int pid)
    {
        try
        {
            var args = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0');
            return args.Contains("serve", StringComparer.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Opens <c>&lt;mnt&gt;/.wcfs/zurl</c> and reads it, waiting at most <paramref name="timeout"/>.
    /// Returns the state and, when running, the URL the server serves.
    /// </summary>
    public static async Task<(ServerState State, string? Url)> ProbeAsync(string mountpoint, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var probe = Task.Factory.StartNew(() => ProbeBlocking(mountpoint), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var done = await Task.WhenAny(probe, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
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
