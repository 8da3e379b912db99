// ConnectAsync during the re-attach gap (issue 16): a client whose server died opens a new conn. It
// waits for a new server on the mountpoint up to wcfs.client.reattach-timeout, as the client's conns
// do, and then works on the new server (and holds .wcfs/zurl there); when none comes in time it fails
// with one line naming the mount, the cause and the timeout. The test process never maps anything of
// the dead server, so nothing here can fault into it.
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Client;
using Xunit;
using Xunit.Abstractions;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class ConnectGapTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Connect_while_the_server_is_gone_waits_for_a_new_server_and_the_conn_works_on_it()
    {
        await using var w = await StartAsync(reattach: ServerProcess.Scaled(120));
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"));
        var zurl = Path.Combine(w.Server.Mountpoint, ".wcfs", "zurl");
        Assert.Equal(1, OpenDescriptorsOf(zurl));

        await w.Server.KillHardAsync();
        var connect = w.Client.ConnectAsync();
        Assert.False(connect.IsCompleted, "connect returned while no server was mounted");
        await w.Server.RestartAsync();
        await using var conn = await connect.WaitAsync(ServerProcess.Scaled(120));

        Assert.True(conn.At >= at1, $"the conn is at @{conn.At}, before the last commit @{at1}");
        var fh = await conn.OpenAsync(f);
        using (var m = await fh.MmapAsync(0, 1))
            Assert.Equal("a1", Text(m, 0));
        await fh.DisposeAsync();
        Assert.Equal(1, OpenDescriptorsOf(zurl)); // the liveness handle is on the new server now
    }

    [Fact]
    public async Task Connect_when_no_server_comes_back_within_the_reattach_timeout_fails_with_one_line_naming_mount_cause_and_timeout()
    {
        await using var w = await StartAsync(reattach: TimeSpan.FromSeconds(1));
        await w.Server.KillHardAsync();

        var e = await Assert.ThrowsAsync<WcfsServerGoneException>(() => w.Client.ConnectAsync().WaitAsync(ServerProcess.Scaled(60)));
        output.WriteLine(e.Message);

        Assert.StartsWith($"connect: the WCFS server at {w.Server.Mountpoint} is gone (", e.Message, StringComparison.Ordinal);
        Assert.EndsWith(") and no server came back within 1 s (wcfs.client.reattach-timeout)", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
    }

    /// <summary>How many descriptors of this process are open on <paramref name="path"/> (/proc/self/fd; a
    /// descriptor on a detached dead mount shows another path).</summary>
    private static int OpenDescriptorsOf(string path) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Count(fd =>
        {
            try { return fd.LinkTarget == path; }
            catch (IOException) { return false; } // closed while we listed
        });
}
