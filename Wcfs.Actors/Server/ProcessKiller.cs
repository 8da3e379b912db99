// ProcessKiller - how the server gets rid of a faulty client (PROTOCOL.md §4.2): SIGBUS, then
// SIGKILL if the process is still alive after a grace period. Only a real kill of a live process
// counts in `pinkill`; a client that already exited (or is exiting) is left alone.
//
// A client is named by a pidfd (ProcessHandle) taken when it opened its link, never by a bare pid:
// a pid recorded at open may belong to another process by the time of the kill (the client exited
// and the pid was reused), and signalling it would kill an innocent process. A pidfd refers to one
// process for its whole life: pidfd_send_signal on a process that has exited fails (ESRCH) instead
// of hitting whoever got the number next, and the pidfd becomes readable when the process exits,
// which is the event the grace period waits for (no polling).
//
// API for the link code (the watch-link actor calls these):
//   ProcessHandle.OpenOfThread(tid)  at open: the process of the FUSE request's thread, as a pidfd
//   ProcessKiller.KillAsync(client, stats, clientGone)   the kill, counted in stats when real
//   client.Dispose()                 when the link is gone (closes the pidfd)
//
// Calling context: any thread; KillAsync waits (asynchronously) at most Grace.
using System.Runtime.InteropServices;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

/// <summary>
/// One process, held as a pidfd (pidfd_open): signals reach exactly that process or nobody.
/// </summary>
public sealed class ProcessHandle : SafeHandle
{
    private ProcessHandle() : base(-1, ownsHandle: true) { }

    /// <summary>The process id at open (for logs; never used to signal).</summary>
    public int Pid { get; private set; }

    /// <inheritdoc/>
    public override bool IsInvalid => handle == -1;

    /// <summary>
    /// The process of thread <paramref name="tid"/> (fuse_req_ctx's pid is a thread id) as a pidfd,
    /// or null if it is already gone or cannot be named (then it can never be signalled).
    /// </summary>
    public static ProcessHandle? OpenOfThread(int tid) => Open(ProcessKiller.ProcessOfThread(tid));

    /// <summary>Process <paramref name="pid"/> as a pidfd, or null if it does not exist.</summary>
    public static ProcessHandle? Open(int pid)
    {
        if (pid <= 0)
            return null;
        var fd = Libc.PidfdOpen(pid);
        if (fd < 0)
            return null;
        var p = new ProcessHandle { Pid = pid };
        p.SetHandle((nint)fd);
        return p;
    }

    /// <summary>
    /// A child this process started, as a pidfd, or null once it has exited. The pidfd is taken first and
    /// the child checked alive after: until the runtime reaps a child its pid cannot be reused, so a child
    /// not yet exited at the check was the process the pidfd names. Use it to send a child anything but
    /// SIGKILL (<see cref="System.Diagnostics.Process.Kill()"/> is safe already): <c>kill(child.Id, ...)</c>
    /// after the runtime reaped it would hit whoever got the pid next.
    /// </summary>
    public static ProcessHandle? OfChild(System.Diagnostics.Process child)
    {
        var h = Open(child.Id);
        if (h is not null && child.HasExited)
        {
            h.Dispose();
            return null;
        }
        return h;
    }

    /// <summary>Sends <paramref name="signal"/> to <paramref name="child"/> (a process this one started)
    /// through a pidfd; false if it has exited.</summary>
    public static bool SignalChild(System.Diagnostics.Process child, int signal)
    {
        using var h = OfChild(child);
        return h is not null && h.Signal(signal);
    }

    /// <summary>Sends <paramref name="signal"/> (a signal number); false if the process has exited (or the handle is closed).</summary>
    public bool Signal(int signal) => With(fd => Libc.PidfdSendSignal(fd, signal) == 0);

    /// <summary>True once the process has exited (a zombie counts as exited).</summary>
    public bool HasExited => With(fd => Libc.PollIn(fd, 0));

    /// <summary>Waits up to <paramref name="timeout"/> for the exit; true if it exited (blocks the calling thread).</summary>
    public bool WaitForExit(TimeSpan timeout) => With(fd => Libc.PollIn(fd, (int)Math.Min(timeout.TotalMilliseconds, int.MaxValue)));

    private bool With(Func<int, bool> body)
    {
        var added = false;
        try
        {
            DangerousAddRef(ref added);
            return body((int)handle);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            if (added)
                DangerousRelease();
        }
    }

    /// <inheritdoc/>
    protected override bool ReleaseHandle() => Libc.Close((int)handle) == 0;
}

internal static class ProcessKiller
{
    /// <summary>Grace between SIGBUS and SIGKILL.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    private const int SIGKILL = 9, SIGBUS = 7, PF_EXITING = 0x4;

    /// <summary>
    /// Kills <paramref name="client"/> if it is alive and not exiting (SIGBUS, SIGKILL after
    /// <see cref="Grace"/>); counts real kills. Null or an exited client: nothing happens.
    /// </summary>
    public static async Task KillAsync(ProcessHandle? client, ServerStats stats, bool clientGone)
    {
        if (client is null || client.Pid == Environment.ProcessId || !IsAlive(client))
            return;
        if (!client.Signal(SIGBUS))
            return;
        stats.PinKilled();
        var exited = await Task.Factory.StartNew(() => client.WaitForExit(Grace), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        if (!exited)
            client.Signal(SIGKILL);
    }

    /// <summary>
    /// True if the process runs and is not exiting. The /proc entry is read by pid, then the pidfd
    /// is checked not to have exited: a pid cannot be reused before its process is reaped, so the
    /// entry read was the client's own.
    /// </summary>
    public static bool IsAlive(ProcessHandle client)
    {
        if (client.HasExited)
            return false;
        var alive = IsAlive(client.Pid);
        return alive && !client.HasExited;
    }

    /// <summary>True if pid runs and is not a zombie nor exiting (/proc/pid/stat state and flags).</summary>
    public static bool IsAlive(int pid)
    {
        string stat;
        try { stat = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (IOException) { return false; }
        catch (UnauthorizedAccessException) { return true; }
        var rp = stat.LastIndexOf(')');
        if (rp < 0)
            return false;
        var f = stat[(rp + 2)..].Split(' ');
        // f[0] = state (field 3), f[6] = flags (field 9)
        if (f.Length < 7 || f[0] is "Z" or "X" or "x")
            return false;
        return !uint.TryParse(f[6], out var flags) || (flags & PF_EXITING) == 0;
    }

    /// <summary>The process (thread group) of a thread id, as reported by fuse_req_ctx.</summary>
    public static int ProcessOfThread(int tid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{tid}/status"))
                if (line.StartsWith("Tgid:", StringComparison.Ordinal) && int.TryParse(line.AsSpan(5).Trim(), out var tgid))
                    return tgid;
        }
        catch (IOException) { }
        return tid;
    }
}
