// A dead WCFS server (issue 16). Named: a client process whose server was SIGKILLed and none came
// back (re-attach off, or its timeout passed) touches a page of its mapping that is not in the page
// cache (a read, and a write fault that copies the base page) and ends with exactly one line naming
// the mount, the file, the block and "the WCFS server is gone" - never the runtime's "memory is
// corrupt" (AccessViolationException, exit 134 without our line) nor a silent SIGBUS (exit 135).
// Re-attached: a server restarted on the same storage takes over; the client keeps its snapshot
// and dirty pages and commits. The clients run `wcfs test-wcfs-client touch|survive` (real
// processes, real mounts, real page faults).
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Wcfs.Actors.Db;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Tests.Db;
using Wcfs.Actors.Tests.Server;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Client;

public sealed partial class DeadServerTests(ITestOutputHelper output) : WcfsDbTestBase
{
    /// <summary>SIGKILLs the server, then tells the waiting child to go on (it touches the dead mount next).</summary>
    private async Task KillServerAndReleaseAsync(Process child)
    {
        await Server.KillHardAsync();
        await child.StandardInput.WriteLineAsync("go");
        await child.StandardInput.FlushAsync();
    }

    /// <summary>The child's remaining stdout and stderr once it exited (bounded); both are logged.</summary>
    private async Task<(string Stdout, string Stderr)> OutputAtExitAsync(Process child)
    {
        var stdout = child.StandardOutput.ReadToEndAsync();
        var stderr = child.StandardError.ReadToEndAsync();
        await child.WaitForExitAsync().WaitAsync(ServerProcess.Scaled(120));
        var (o, e) = (await stdout, await stderr);
        output.WriteLine($"exit {child.ExitCode}; stdout:\n{o}\nstderr:\n{e}");
        return (o, e);
    }

    private const int SigAbrtExit = 128 + 6;

    [Theory]
    [InlineData("read", "0s")]
    [InlineData("write", "0s")]
    [InlineData("read", "2s")]
    [InlineData("write", "2s")]
    public async Task Touching_an_unloaded_page_after_the_server_died_and_none_came_back_ends_the_client_with_one_line_naming_mount_file_and_block(string mode, string reattach)
    {
        Server.ResetWatchdog(ServerProcess.Scaled(600)); // child start-up under load
        var oid = await CreateFileAsync(16, (0, "b0"), (15, "b15"));
        using var child = StartChild("touch", "16", "10", mode, reattach);
        try
        {
            Assert.Equal("ready b0", await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(180)));
            await KillServerAndReleaseAsync(child);
            var (stdoutText, err) = await OutputAtExitAsync(child);
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(child.ExitCode == SigAbrtExit, $"exit {child.ExitCode}, stderr:\n{err}");
            var expected = $"wcfs: client: {Server.Mountpoint}: file {oid} block 10: the WCFS server is gone; access at 0x";
            // The fatal line is the client's last word; a warning the logger thread had queued may still
            // get out after it (seen under a CPU hog), so it is the last "wcfs: client:" line, not the last line.
            var fatal = lines.LastOrDefault(l => l.StartsWith("wcfs: client:", StringComparison.Ordinal)) ?? "";
            Assert.True(fatal.StartsWith(expected, StringComparison.Ordinal) && AddressTail().IsMatch(fatal[expected.Length..]),
                $"no stderr line \"{expected}<16 hex>\":\n{err}");
            Assert.Single(lines, l => l.Contains("wcfs: client:", StringComparison.Ordinal));
            Assert.DoesNotContain("AccessViolationException", err, StringComparison.Ordinal);
            Assert.DoesNotContain("corrupt", err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal); // no stack trace anywhere
            Assert.Equal("", stdoutText.Trim()); // nothing but our own "ready": no log lines on stdout
        }
        finally
        {
            if (!child.HasExited)
                child.Kill(); // our own child
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_whose_server_was_killed_and_restarted_keeps_its_snapshot_and_dirty_pages_and_commits(bool autostart)
    {
        Server.ResetWatchdog(ServerProcess.Scaled(600)); // child start-up, a kill and a restart under load
        var oid = await CreateFileAsync(16, (0, "b0"), (2, "b2-old"), (15, "b15"));
        using var child = StartChild("survive", "16", "120s", autostart ? "on" : "off");
        try
        {
            var ready = await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(180));
            Assert.StartsWith("ready ", ready);
            Assert.EndsWith(" b0", ready);
            if (autostart) // the restart command's settings (storage URL included) stay in the conn: no file holds them
                Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(Server.Mountpoint)!, $"*.serve-{child.Id}-*"));
            var after = Server.Commit(oid, (2, "b2-new")); // after the child's snapshot
            await Server.WaitHeadAtAsync(after);
            await KillServerAndReleaseAsync(child); // the child faults on the dead mount and waits
            if (!autostart)
                await Server.RestartAsync(); // by hand; with autostart the client starts one itself
            var stderr = child.StandardError.ReadToEndAsync();
            var lines = new List<string>();
            for (var i = 0; i < 5; i++)
                lines.Add(await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(180)) ?? "<eof>: " + await stderr);
            await child.WaitForExitAsync().WaitAsync(ServerProcess.Scaled(120));
            var err = await stderr;
            output.WriteLine($"exit {child.ExitCode}; stdout:\n{string.Join('\n', lines)}\nstderr:\n{err}");
            Assert.Equal(0, child.ExitCode);
            Assert.Equal("read10 ", lines[0]);
            Assert.Equal("read2 b2-old", lines[1]); // the snapshot, not the commit made before the kill
            Assert.Equal("dirty1 dirty", lines[2]);
            Assert.StartsWith("committed ", lines[3]);
            Assert.Equal("after2 b2-new", lines[4]);
            Assert.Equal("dirty", ServerProcess.ReadBlock(Server.HeadPath(oid), 1, Block));
            Assert.Equal("w12", ServerProcess.ReadBlock(Server.HeadPath(oid), 12, Block));
            Assert.Equal("b2-new", ServerProcess.ReadBlock(Server.HeadPath(oid), 2, Block));
        }
        finally
        {
            if (!child.HasExited)
                child.Kill(); // our own child
            if (autostart)
                await StopAutostartedAsync();
        }
    }

    /// <param name="otherCommitInGap">Another commit (block 5) lands after the child's and before the new server
    /// starts; the child must still show exactly its own commit's snapshot (block 5 without the other commit)
    /// until its next commit.</param>
    /// <param name="noHistory">The new server's history window is 1 ms: its history starts at its start, after the
    /// child's commit, so it refuses the child's watches there (the conn stays on the snapshot floor, moved to the
    /// commit); otherwise the new server loads the window's commits and accepts them with exact pins.</param>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task A_commit_while_the_server_is_gone_waits_for_the_new_server_and_the_next_commit_and_reads_at_the_new_head_work(bool otherCommitInGap, bool noHistory)
    {
        Server.ResetWatchdog(ServerProcess.Scaled(600)); // child start-up, a kill and a restart under load
        var oid = await CreateFileAsync(16, (0, "b0"), (15, "b15"));
        using var child = StartChild("gap-commit", "16", "120s");
        try
        {
            Assert.StartsWith("ready ", await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(180)));
            var before = Server.Storage.LastTid;
            await KillServerAndReleaseAsync(child);
            Assert.Equal("committing", await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(60)));
            if (otherCommitInGap)
            {
                var deadline = DateTime.UtcNow + ServerProcess.Scaled(60);
                while (Server.Storage.LastTid == before)
                {
                    Assert.True(DateTime.UtcNow < deadline, "the child's commit did not reach the storage within 60 s");
                    await Task.Delay(10); // why: the storage has no change notification; poll its last tid
                }
                Server.Commit(oid, (5, "u5")); // storage only: no server is mounted
            }
            // the commit is waiting for it (no server is mounted)
            await Server.RestartAsync(server: noHistory ? c => c with { HistoryWindow = TimeSpan.FromMilliseconds(1) } : null);
            var stderr = child.StandardError.ReadToEndAsync();
            var lines = new List<string>();
            for (var i = 0; i < 7; i++)
                lines.Add(await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(180)) ?? "<eof>: " + await stderr);
            await child.WaitForExitAsync().WaitAsync(ServerProcess.Scaled(120));
            var err = await stderr;
            output.WriteLine($"exit {child.ExitCode}; stdout:\n{string.Join('\n', lines)}\nstderr:\n{err}");
            Assert.Equal(0, child.ExitCode);
            Assert.StartsWith("committed ", lines[0]);
            var t1 = Wcfs.Actors.Storage.Tid.Parse(lines[0]["committed ".Length..]);
            Assert.Equal("dirty1 gap1", lines[1]);
            Assert.Equal("read5 ", lines[2]); // the snapshot @t1, also when a later commit is the new server's start
            Assert.StartsWith("committed2 ", lines[3]);
            var t2 = Wcfs.Actors.Storage.Tid.Parse(lines[3]["committed2 ".Length..]);
            Assert.True(t2 > t1, $"second commit @{t2} is not after the first @{t1}");
            Assert.Equal("after1 gap1", lines[4]);
            Assert.Equal("after3 gap3", lines[5]);
            Assert.Equal(otherCommitInGap ? "after5 u5" : "after5 ", lines[6]);
            // whole commits: @t1 has block 1 and not yet block 3; @t2 and head have both
            Assert.Equal("gap1", ServerProcess.ReadBlock(Server.RevPath(t1, oid), 1, Block));
            Assert.Equal("", ServerProcess.ReadBlock(Server.RevPath(t1, oid), 3, Block));
            Assert.Equal("gap3", ServerProcess.ReadBlock(Server.RevPath(t2, oid), 3, Block));
            Assert.Equal("gap1", ServerProcess.ReadBlock(Server.HeadPath(oid), 1, Block));
            Assert.Equal("gap3", ServerProcess.ReadBlock(Server.HeadPath(oid), 3, Block));
        }
        finally
        {
            if (!child.HasExited)
                child.Kill(); // our own child
        }
    }

    [Fact]
    public async Task A_commit_while_no_server_comes_back_fails_with_one_line_saying_it_is_stored_and_it_is_stored_whole()
    {
        Server.ResetWatchdog(ServerProcess.Scaled(600)); // child start-up, a kill and a restart under load
        var oid = await CreateFileAsync(16, (0, "b0"), (15, "b15"));
        using var child = StartChild("gap-commit", "16", "2s");
        try
        {
            Assert.StartsWith("ready ", await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(180)));
            await KillServerAndReleaseAsync(child);
            var (out_, err) = await OutputAtExitAsync(child);
            Assert.Equal("committing", out_.Trim());
            Assert.True(child.ExitCode == 1, $"exit {child.ExitCode}, stderr:\n{err}");
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var line = Assert.Single(lines, l => l.StartsWith("wcfs: ", StringComparison.Ordinal));
            var m = StoredButGone().Match(line);
            Assert.True(m.Success, $"not the one line of a stored commit whose server is gone:\n{err}");
            Assert.Equal(Server.Mountpoint, m.Groups["mnt"].Value);
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal); // no stack trace
            var tid = Wcfs.Actors.Storage.Tid.Parse(m.Groups["tid"].Value);
            Assert.Equal(tid, Server.Storage.LastTid); // stored, and nothing after it

            await Server.RestartAsync();
            Assert.Equal("gap1", ServerProcess.ReadBlock(Server.RevPath(tid, oid), 1, Block));
            Assert.Equal("b0", ServerProcess.ReadBlock(Server.RevPath(tid, oid), 0, Block));
            Assert.Equal("b15", ServerProcess.ReadBlock(Server.RevPath(tid, oid), 15, Block));
        }
        finally
        {
            if (!child.HasExited)
                child.Kill(); // our own child
        }
    }

    [GeneratedRegex(@"^wcfs: commit @(?<tid>[0-9a-f]{16}) is stored in the database, but the connection cannot follow it: resync to @\k<tid>: the WCFS server at (?<mnt>\S+) is gone \(.+\) and no server came back within 2 s \(wcfs\.client\.reattach-timeout\)$")]
    private static partial Regex StoredButGone();

    /// <summary>Stops the server the client autostarted (not our child: found by the mount's pid file).</summary>
    private async Task StopAutostartedAsync()
    {
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(20);
        while (MountPoint.ServerPid(Server.Mountpoint) is null && MountPoint.IsMounted(Server.Mountpoint) && DateTime.UtcNow < deadline)
            await Task.Delay(20); // why: the pid file has no change notification
        using var server = MountPoint.OpenServer(Server.Mountpoint); // verified `wcfs serve` holding the lock, as a pidfd
        if (server is null || server.Pid == Server.Process.Id)
            return;
        server.Signal(Wcfs.Native.Interop.Libc.SIGTERM);
        await Task.Run(() => server.WaitForExit(ServerProcess.Scaled(20))); // the pidfd turns readable at its exit
    }

    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex AddressTail();

    /// <summary>A committed ZBigFile "f" of <paramref name="blocks"/> 2 MiB blocks with the given texts; the
    /// test's own database is closed again (the test process keeps no mapping of the server).</summary>
    private async Task<Wcfs.Actors.Storage.Oid> CreateFileAsync(long blocks, params (long Blk, string Text)[] data)
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c, Block);
        await c.CommitAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using (var v = await h.MmapAsync(0, blocks * Block / h.PageSize))
            foreach (var (blk, text) in data)
                Encoding.UTF8.GetBytes(text).CopyTo(v.GetSpan(blk * Block, Block));
        await c.CommitAsync();
        var oid = c.Root.Get<ZBigFile>("f").Oid;
        await c.DisposeAsync();
        await db.DisposeAsync();
        Dbs.Remove(db);
        return oid;
    }

    private Process StartChild(string command, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { ServerProcess.WcfsDll, "test-wcfs-client", command, Server.Mountpoint, Server.Url }.Concat(args))
            psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
    }
}
