// The native client's mount records (issue 16; wcfs_client_fault.c invariant F4): one record per
// distinct mountpoint spelling, never freed, read by the SIGBUS handler (names in the fatal line) and
// by the re-attach. There is no fixed table: a conn on the 70th distinct spelling re-attaches like the
// first (with the old 64-entry table it had no record, so it went down for good when its server
// died). A mountpoint too long for a record is refused at open with one line. The spellings are
// symlinks to one real mount (test process: native conns only, no mappings, nothing can fault).
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Client;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Client;

public class MountRecordTests
{
    private const int Spellings = 70;

    [Fact]
    public async Task Conns_on_70_distinct_mountpoints_all_reattach_after_their_server_was_killed_and_restarted()
    {
        await using var s = await ServerProcess.StartAsync();
        var links = Path.Combine(s.Dir, "links");
        Directory.CreateDirectory(links);
        var conns = new List<WclConnHandle>();
        try
        {
            for (var i = 0; i < Spellings; i++)
            {
                var link = Path.Combine(links, $"m{i:00}");
                File.CreateSymbolicLink(link, s.Mountpoint);
                var c = WclConnHandle.Open(link);
                conns.Add(c);
                c.SetAt(s.HeadAt().Value);
                c.SetReattach(ServerProcess.Scaled(120));
            }
            await s.KillHardAsync();
            await WaitAllAsync(conns, up: false, "every conn noticed its server's death");
            await s.RestartAsync();
            await WaitAllAsync(conns, up: true, "every conn re-attached to the new server");
        }
        finally
        {
            foreach (var c in conns)
                c.Dispose();
        }
    }

    [Fact]
    public async Task A_mountpoint_longer_than_a_mount_record_holds_is_refused_at_open_with_one_line()
    {
        await using var s = await ServerProcess.StartAsync();
        var dir = Path.Combine(s.Dir, "long");
        for (var i = 0; i < 6; i++)
            dir = Path.Combine(dir, new string((char)('a' + i), 200));
        Directory.CreateDirectory(dir);
        var link = Path.Combine(dir, "mnt");
        File.CreateSymbolicLink(link, s.Mountpoint);
        Assert.True(link.Length >= 1024, $"the test path is only {link.Length} bytes");

        var e = Assert.Throws<WcfsClientException>(() => WclConnHandle.Open(link).Dispose());

        Assert.Equal($"open watch link of {link}: failed with errno 36 (File name too long)", e.Message);
    }

    private static async Task WaitAllAsync(List<WclConnHandle> conns, bool up, string what)
    {
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(120);
        while (conns.Any(c => c.IsUp != up))
        {
            Assert.True(DateTime.UtcNow < deadline,
                $"timed out waiting until {what}: conns {string.Join(", ", conns.Select((c, i) => (c, i)).Where(x => x.c.IsUp != up).Select(x => x.i))} are {(up ? "down" : "up")}");
            await Task.Delay(20); // why: a native conn's link state has no change notification; poll it
        }
    }
}
