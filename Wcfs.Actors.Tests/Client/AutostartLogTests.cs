// The logs of an autostarted server (Client/WcfsServer.cs, ServerLogFiles.cs): the server writes
// its own log, `--log-file <mnt>.log` (rotated by size by the server: ServerLoggingTests), and only
// its raw stdout/stderr goes to <mnt>.stderr; a server that exits at once is reported with what that
// start wrote, naming both files. Real `wcfs serve` processes started by the one launcher.
using System.Text.RegularExpressions;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Client;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AutostartLogTests : IDisposable
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly TempDirectory _dir = new("wcfs-autolog");

    [Fact]
    public async Task An_autostarted_server_writes_its_own_log_file_next_to_the_mountpoint_and_nothing_to_its_stderr_file()
    {
        var root = _dir.File("root");
        var url = "sqlite://" + _dir.File("auto.sqlite");
        using (StorageFactory.Open(url)) { }
        var mnt = MountPoint.For(url, root);
        try
        {
            Assert.Equal(mnt, await WcfsServer.EnsureRunningAsync(url, WcfsSettings.FromHocon($"wcfs.mount-root = \"{root}\""), ServerProcess.Scaled(60)));
            var pid = MountPoint.ServerPid(mnt);
            Assert.NotNull(pid);
            // The server's file sink (its own template: date and "wcfs[pid]:"), not its stderr appended by a shell.
            var serving = new Regex($@"^\d{{4}}-\d\d-\d\d [0-9:.]+ \[INF\] wcfs\[{pid}\]: serving ", RegexOptions.Multiline);
            var deadline = DateTime.UtcNow + TestTimeouts.Default;
            while (!serving.IsMatch(Read(mnt + ".log")))
            {
                Assert.True(DateTime.UtcNow < deadline, $"no \"serving\" line of pid {pid} in {mnt}.log:\n{Read(mnt + ".log")}");
                await Task.Delay(50); // why: the file sink flushes on its own schedule; polled with a bound
            }
            Assert.Equal(Private, File.GetUnixFileMode(mnt + ".log"));
            Assert.Equal(Private, File.GetUnixFileMode(mnt + ".stderr"));
            Assert.Equal("", Read(mnt + ".stderr"));
        }
        finally
        {
            await WcfsCli.StopServerAsync(url, mnt);
        }
    }

    [Fact]
    public async Task A_server_that_exits_at_once_is_reported_with_the_lines_of_that_start_and_where_its_logs_are()
    {
        var root = _dir.File("root");
        var db = _dir.File("garbage.sqlite");
        await File.WriteAllTextAsync(db, new string('x', 8192)); // not a database: the server cannot open its storage
        var url = "sqlite://" + db;
        var mnt = MountPoint.For(url, root);
        PrivateFiles.EnsurePrivateDirectory(root);
        await File.WriteAllTextAsync(mnt + ".log", "an old line of an earlier server\n"); // not this start's
        File.SetUnixFileMode(mnt + ".log", Private);
        try
        {
            var e = await Assert.ThrowsAsync<WcfsClientException>(() =>
                WcfsServer.EnsureRunningAsync(url, WcfsSettings.FromHocon($"wcfs.mount-root = \"{root}\""), ServerProcess.Scaled(60)));
            Assert.Contains("exited with 1 before mounting", e.Message);
            Assert.Contains("cannot open storage", e.Message);            // the server's own log line
            Assert.DoesNotContain("an old line", e.Message);
            Assert.Contains($"see {mnt}.log and {mnt}.stderr", e.Message);
            Assert.DoesNotContain("\n", e.Message);                          // one line
        }
        finally
        {
            if (MountPoint.IsMounted(mnt))
                MountPoint.Unmount(mnt);
        }
    }

    private static string Read(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var r = new StreamReader(f);
        return r.ReadToEnd();
    }

    public void Dispose() => _dir.Dispose();
}
