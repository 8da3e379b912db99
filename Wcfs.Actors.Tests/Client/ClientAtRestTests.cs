// A client at rest costs no wakeups: the thread that carries a conn's native events to its
// PinnerActor blocks in poll(2) on the conn's eventfd without a timeout (it woke every 50 ms before,
// 20 wakeups a second per idle connection). Checked without a timing window: the thread's
// /proc/self/task/<tid>/syscall shows the blocking call and its timeout argument (poll: -1; ppoll: a
// NULL timespec). Its stop (PostStop wakes it through the eventfd) is covered by every test that
// closes a connection.
using Wcfs.Actors.Tests.Db;
using Wcfs.Actors.Tests.Server;
using Xunit;

namespace Wcfs.Actors.Tests.Client;

public sealed class ClientAtRestTests : WcfsDbTestBase
{
    private const string ThreadName = "wcfs-pinner-eve"; // "wcfs-pinner-events", as the kernel keeps it (15 chars)
    private const int SysPoll = 7, SysPpoll = 271; // x86-64

    [Fact]
    public async Task The_event_reader_of_an_open_connection_waits_for_events_without_a_timeout()
    {
        var before = Readers();
        var db = await OpenDatabaseAsync();
        await using var conn = await db.OpenConnectionAsync();
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(30);
        var ours = Readers().Except(before).ToList();
        while (ours.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10); // why: the pinner starts its reader in PreStart, after the connection opened; no notification
            ours = Readers().Except(before).ToList();
        }
        Assert.NotEmpty(ours); // our connection's reader (other tests' connections may have their own)

        foreach (var tid in ours)
        {
            string? blocked = null;
            while (blocked is null && DateTime.UtcNow < deadline)
            {
                blocked = BlockedPoll(tid);
                if (blocked is null)
                    await Task.Delay(10); // why: the thread may still be starting or handling an event; its state has no notification
            }
            Assert.True(blocked is not null, $"thread {tid} ({ThreadName}) was never seen blocked in poll/ppoll within 30 s");
            var a = blocked!.Split(' ');
            var nr = int.Parse(a[0], System.Globalization.CultureInfo.InvariantCulture);
            var timeout = Convert.ToUInt64(a[3], 16);
            if (nr == SysPoll)
                Assert.True((int)(uint)timeout == -1, $"thread {tid} polls with a timeout of {(int)(uint)timeout} ms: /proc syscall line \"{blocked}\"");
            else
                Assert.True(timeout == 0, $"thread {tid} ppolls with a timeout (timespec at 0x{timeout:x}): \"{blocked}\"");
        }
    }

    /// <summary>Thread ids of this process named like a conn's event reader.</summary>
    private static HashSet<int> Readers() =>
        [.. Directory.GetDirectories("/proc/self/task")
            .Where(t => TryRead(Path.Combine(t, "comm"))?.Trim() == ThreadName)
            .Select(t => int.Parse(Path.GetFileName(t), System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The thread's /proc syscall line if it is blocked in poll or ppoll, else null.</summary>
    private static string? BlockedPoll(int tid)
    {
        var line = TryRead($"/proc/self/task/{tid}/syscall")?.Trim();
        if (line is null || line == "running")
            return null;
        var nr = line.Split(' ')[0];
        return nr == SysPoll.ToString(System.Globalization.CultureInfo.InvariantCulture) || nr == SysPpoll.ToString(System.Globalization.CultureInfo.InvariantCulture) ? line : null;
    }

    private static string? TryRead(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; } // the thread ended
    }
}
