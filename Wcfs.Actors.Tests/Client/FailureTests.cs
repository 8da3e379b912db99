// Bad input and failure of the WCFS client (issue 5): the server dies under a Conn; no server and
// autostart off; autostart on.
using Wcfs.Actors.Client;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Native.Interop;
using Xunit;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class FailureTests
{
    [Fact]
    public async Task When_the_server_dies_and_reattach_is_off_the_conn_reports_it_and_refuses_further_use()
    {
        await using var w = await StartAsync(reattach: TimeSpan.Zero);
        var f = w.Server.CreateFile();
        var g = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"));
        var conn = await w.Client.ConnectAsync(at1);
        var fh = await conn.OpenAsync(f);
        using (var m = await fh.MmapAsync(0, 1))
            Assert.Equal("a1", Text(m, 0));

        w.Server.Process.Kill(); // our own child
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(20);
        ConnProtocol.ConnState state;
        while ((state = await conn.GetStateAsync()).Broken is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the conn did not notice the server's death within 20s");
            await Task.Delay(10); // why: the conn's state has no change notification for tests; poll it
        }
        Assert.Contains("server gone", state.Broken, StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<WcfsServerGoneException>(() => conn.OpenAsync(g));
        Assert.Contains("server is gone", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<WcfsServerGoneException>(() => conn.ResyncAsync(at1));
        await fh.DisposeAsync();
        await conn.DisposeAsync().AsTask().WaitAsync(ServerProcess.Scaled(30)); // closing never hangs on a dead server
        Assert.True(conn.IsClosed);
    }

    [Fact]
    public async Task Join_without_a_server_and_autostart_off_names_the_mountpoint_and_the_command()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wcfs-cltest-" + Guid.NewGuid().ToString("N")[..12]);
        var url = "sqlite://" + Path.Combine(dir, "db.sqlite");
        var mnt = Path.Combine(dir, "mnt");
        var e = await Assert.ThrowsAsync<WcfsClientException>(() =>
            WcfsClient.JoinAsync(url, new WcfsClientOptions { Mountpoint = mnt, Autostart = false }));
        Assert.Contains(mnt, e.Message, StringComparison.Ordinal);
        Assert.Contains($"wcfs serve {url}", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Join_with_autostart_starts_a_server_for_the_url_and_keeps_zurl_open()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wcfs-cltest-" + Guid.NewGuid().ToString("N")[..12]);
        Wcfs.Actors.Protocol.PrivateFiles.EnsurePrivateDirectory(dir); // 0700: the mount root of mnt
        var url = "sqlite://" + Path.Combine(dir, "db.sqlite");
        var mnt = Path.Combine(dir, "mnt");
        var zurl = Path.Combine(mnt, ".wcfs", "zurl");
        try
        {
            await using (var client = await WcfsClient.JoinAsync(url, new WcfsClientOptions { Mountpoint = mnt, Autostart = true }))
            {
                var (state, served) = await MountPoint.ProbeAsync(mnt, ServerProcess.Scaled(5));
                Assert.Equal(ServerState.Running, state);
                Assert.Equal(MountPoint.NormalizeUrl(url), MountPoint.NormalizeUrl(served!));
                await using var conn = await client.ConnectAsync();
                Assert.Equal(client.HeadAt(), conn.At);
                Assert.Contains(File.ReadAllLines("/proc/self/mountinfo"), l => l.Contains(mnt, StringComparison.Ordinal));
                Assert.Equal(1, OpenDescriptorsOf(zurl)); // held by the client while it lives
            }
            Assert.Equal(0, OpenDescriptorsOf(zurl)); // released with the client
        }
        finally
        {
            // the server writes its pid file just after its mount starts answering: wait for it (bounded)
            var pidDeadline = DateTime.UtcNow + ServerProcess.Scaled(10);
            while (MountPoint.ServerPid(mnt) is null && MountPoint.IsMounted(mnt) && DateTime.UtcNow < pidDeadline)
                await Task.Delay(20); // why: the pid file has no change notification
            using (var server = MountPoint.OpenServer(mnt)) // the server this test autostarted: verified, as a pidfd
                if (server is not null && server.Signal(Wcfs.Native.Interop.Libc.SIGTERM))
                    await Task.Run(() => server.WaitForExit(ServerProcess.Scaled(20))); // the pidfd turns readable at its exit
            if (MountPoint.IsMounted(mnt))
                MountPoint.Unmount(mnt);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>How many descriptors of this process are open on <paramref name="path"/> (/proc/self/fd).</summary>
    private static int OpenDescriptorsOf(string path) =>
        new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos().Count(fd =>
        {
            try { return fd.LinkTarget == path; }
            catch (IOException) { return false; } // closed while we listed
        });
}
