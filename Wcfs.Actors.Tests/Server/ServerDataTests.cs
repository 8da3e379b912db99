// Data served through a real mount (PROTOCOL.md §2, §3): sizes, holes, ends, @rev, cache.
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class ServerDataTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task Head_shows_latest_data_with_holes_as_zeros_and_size_as_high_water_mark()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a0"), (2, "a2"));
        await s.WaitHeadAtAsync(at1);
        Assert.Equal(3 * 4096, new FileInfo(s.HeadPath(f)).Length);
        Assert.Equal("a0", ReadBlock(s.HeadPath(f), 0));
        Assert.Equal("", ReadBlock(s.HeadPath(f), 1));
        Assert.Equal("a2", ReadBlock(s.HeadPath(f), 2));

        var at2 = s.Commit(f, (2, null)); // deleting the last block does not shrink the file
        await s.WaitHeadAtAsync(at2);
        Assert.Equal(3 * 4096, new FileInfo(s.HeadPath(f)).Length);
        Assert.Equal("", ReadBlock(s.HeadPath(f), 2));
        Assert.Equal(at2, s.HeadAt());
    }

    [Fact]
    public async Task Reads_at_or_past_the_end_return_nothing_and_reads_across_it_are_cut()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Commit(f, (0, "x")));
        using var h = File.OpenHandle(s.HeadPath(f));
        var buf = new byte[8192];
        Assert.Equal(4096, RandomAccess.Read(h, buf, 0));
        Assert.Equal(0, RandomAccess.Read(h, buf, 4096));
        Assert.Equal(0, RandomAccess.Read(h, buf, long.MaxValue / 2));
        Assert.Equal(96, RandomAccess.Read(h, buf, 4000));
    }

    [Fact]
    public async Task An_empty_file_has_size_zero()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Storage.LastTid);
        Assert.Equal(0, new FileInfo(s.HeadPath(f)).Length);
        Assert.Empty(File.ReadAllBytes(s.HeadPath(f)));
    }

    [Fact]
    public async Task Rev_directory_shows_exactly_the_data_as_of_its_tid()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "v1"), (1, "w1"));
        var at2 = s.Commit(f, (0, "v2"), (3, "z2"));
        await s.WaitHeadAtAsync(at2);
        Assert.Equal(2 * 4096, new FileInfo(s.RevPath(at1, f)).Length);
        Assert.Equal("v1", ReadBlock(s.RevPath(at1, f), 0));
        Assert.Equal("w1", ReadBlock(s.RevPath(at1, f), 1));
        Assert.Equal(4 * 4096, new FileInfo(s.RevPath(at2, f)).Length);
        Assert.Equal("v2", ReadBlock(s.RevPath(at2, f), 0));
        Assert.Equal("z2", ReadBlock(s.RevPath(at2, f), 3));
        Assert.Equal("v2", ReadBlock(s.HeadPath(f), 0));
    }

    [Fact]
    public async Task Invalid_names_are_not_found_and_nothing_but_watch_is_writable()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Storage.LastTid);
        var m = s.Mountpoint;
        Assert.False(File.Exists(Path.Combine(m, "head", "bigfile", "xyz")));
        Assert.False(File.Exists(Path.Combine(m, "head", "bigfile", "00000000000000ff"))); // no such object
        Assert.False(File.Exists(Path.Combine(m, "head", "bigfile", "0000000000000000"))); // the root: not a big file
        Assert.False(Directory.Exists(Path.Combine(m, "@123")));
        Assert.False(Directory.Exists(Path.Combine(m, "@ffffffffffffffff"))); // after head
        Assert.False(File.Exists(Path.Combine(m, "nothing")));
        Assert.ThrowsAny<IOException>(() => File.OpenWrite(s.HeadPath(f)).Dispose());
        Assert.ThrowsAny<Exception>(() => File.WriteAllText(Path.Combine(m, "head", "at"), "x"));
        Assert.ThrowsAny<Exception>(() => File.WriteAllText(Path.Combine(m, "newfile"), "x"));
        Assert.Equal(s.Storage.Url, File.ReadAllText(Path.Combine(m, ".wcfs", "zurl")));
        Assert.Equal("60.0", File.ReadAllText(Path.Combine(m, ".wcfs", "pintimeout")));
    }

    [Fact]
    public async Task A_commit_invalidates_only_the_changed_blocks_of_head()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Commit(f, (0, "a"), (1, "b"), (2, "c")));
        File.ReadAllBytes(s.HeadPath(f)); // bring every block into the page cache
        Assert.Equal("[1,1,1]", Bits(Cached(s.HeadPath(f), 3)));

        await s.WaitHeadAtAsync(s.Commit(f, (1, "B")));
        Assert.Equal("[1,0,1]", Bits(Cached(s.HeadPath(f), 3)));
        Assert.Equal("B", ReadBlock(s.HeadPath(f), 1));
        Assert.Equal("[1,1,1]", Bits(Cached(s.HeadPath(f), 3)));
    }

    [Fact]
    public async Task Without_invalidation_the_residency_check_sees_the_stale_block_still_cached()
    {
        // Twin of the test above: proves the mincore check can fail.
        await using var s = await StartAsync(invalidate: false);
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Commit(f, (0, "a"), (1, "b"), (2, "c")));
        File.ReadAllBytes(s.HeadPath(f));
        await s.WaitHeadAtAsync(s.Commit(f, (1, "B")));
        Assert.Equal("[1,1,1]", Bits(Cached(s.HeadPath(f), 3)));
        Assert.Equal("b", ReadBlock(s.HeadPath(f), 1)); // stale: exactly what invalidation prevents
    }
}

public class RevDirIdleTests
{
    [Fact]
    public async Task An_unused_rev_directory_is_removed_after_the_idle_timeout_and_an_open_one_is_kept()
    {
        var conf = Path.Combine(Path.GetTempPath(), $"wcfs-idle-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(conf, "wcfs.server.rev-dir-idle-timeout = 1s\n");
        try
        {
            await using var s = await ServerProcess.StartAsync(extraArgs: $"--config {conf}");
            var f = s.CreateFile();
            var at1 = s.Commit(f, (0, "a1"));
            var at2 = s.Commit(f, (0, "a2"));
            await s.WaitHeadAtAsync(at2);
            Assert.Equal("a1", ServerProcess.ReadBlock(s.RevPath(at1, f), 0));
            using (var open = File.OpenHandle(s.RevPath(at2, f)))
            {
                Assert.Equal(2, s.Stat("RevHead"));
                await WaitAsync(() => s.Stat("RevHead") == 1, "the unused @at1 to go");
                await Task.Delay(ServerProcess.Scaled(1.5)); // why: the open @at2 must survive several idle checks (0.5 s apart); there is no event for "not removed"
                Assert.Equal(1, s.Stat("RevHead"));
            }
            await WaitAsync(() => s.Stat("RevHead") == 0, "@at2 to go after its close");
            Assert.Equal("a1", ServerProcess.ReadBlock(s.RevPath(at1, f), 0)); // comes back on lookup
        }
        finally
        {
            File.Delete(conf);
        }
    }

    private static async Task WaitAsync(Func<bool> cond, string what)
    {
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(10);
        while (!cond())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException("timed out waiting for " + what);
            await Task.Delay(20); // why: .wcfs/stats has no change notification; poll it
        }
    }
}

public class StorageFailureTests
{
    [Fact]
    public async Task When_the_storage_file_disappears_the_server_logs_why_unmounts_and_exits_non_zero()
    {
        await using var s = await ServerProcess.StartAsync();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Commit(f, (0, "a")));
        using var h = File.OpenHandle(s.HeadPath(f), options: FileOptions.RandomAccess);
        Assert.Equal(1, RandomAccess.Read(h, new byte[1], 0));

        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(Path.Combine(s.Dir, "db.sqlite" + suffix));

        using (var cts = new CancellationTokenSource(ServerProcess.Scaled(15)))
            await s.Process.WaitForExitAsync(cts.Token);
        Assert.Equal(1, s.Process.ExitCode);
        Assert.Contains("was deleted", s.Log);
        Assert.False(Wcfs.Actors.Protocol.MountPoint.IsMounted(s.Mountpoint));
        Assert.ThrowsAny<IOException>(() => RandomAccess.Read(h, new byte[4096], 4096 * 0 + 1)); // ENOTCONN, never data
    }
}
