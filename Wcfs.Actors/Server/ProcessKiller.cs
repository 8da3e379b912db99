// ProcessKiller - how the server gets rid of a faulty client (PROTOCOL.md §4.2): SIGBUS, then
// SIGKILL if the process is still alive after a grace period. Only a real kill of a live process
// counts in `pinkill`; a client that already exited (or is exiting) is left alone.
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal static partial class ProcessKiller
{
    /// <summary>Grace between SIGBUS and SIGKILL.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    private const int PF_EXITING = 0x4;

    /// <summary>Kills <paramref name="pid"/> if it is alive and not exiting; counts real kills.</summary>
    public static async Task KillAsync(int pid, ServerStats stats, bool clientGone)
    {
        if (pid <= 0 || pid == Environment.ProcessId || !IsAlive(pid))
            return;
        if (Libc.Kill(pid, Libc.SIGBUS) != 0)
            return;
        stats.PinKilled();
        var deadline = DateTime.UtcNow + Grace;
        while (DateTime.UtcNow < deadline)
        {
            if (!IsAlive(pid))
                return;
            await Task.Delay(10).ConfigureAwait(false); // why: polling a foreign process's exit; no event exists
        }
        Libc.Kill(pid, Libc.SIGKILL);
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
