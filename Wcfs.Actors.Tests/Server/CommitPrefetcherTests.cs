// CommitPrefetcher through a real mount (wcfs.server.prefetch-committed = on): after a commit the
// server reads the changed blocks of files the kernel knows into the page cache, so readers are
// served from the cache; a block whose read would have to pin a watcher still behind the commit is
// left alone (no pin caused by a prefetch) until that watcher moves. Residency is checked with
// mincore (ServerProcess.Cached), reads with the server's .wcfs/stats.
using Wcfs.Actors.Storage;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public sealed class CommitPrefetcherTests
{
    private static Task<ServerProcess> StartPrefetchingAsync() => StartAsync(server: s => s with { PrefetchCommitted = true });

    /// <summary>Polls the page-cache residency of the first <paramref name="pages"/> pages until it reads <paramref name="bits"/>.</summary>
    private static async Task UntilCachedAsync(string path, int pages, string bits)
    {
        var deadline = DateTime.UtcNow + Scaled(15);
        while (Bits(Cached(path, pages)) != bits)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{path}: cached {Bits(Cached(path, pages))}, not {bits}, after 15 s");
            await Task.Delay(10); // why: the page cache has no change notification; poll mincore
        }
    }

    /// <summary>The server counts a read just after answering it: polls readbytes until it reaches <paramref name="bytes"/>; returns the count (asserted equal).</summary>
    private static async Task<long> UntilReadBytesAsync(ServerProcess s, long bytes)
    {
        var deadline = DateTime.UtcNow + Scaled(15);
        while (s.Stat("readbytes") < bytes && DateTime.UtcNow < deadline)
            await Task.Delay(5); // why: .wcfs/stats has no change notification; poll it
        var n = s.Stat("readbytes");
        Assert.Equal(bytes, n);
        return n;
    }

    [Fact]
    public async Task The_blocks_a_commit_changed_are_read_into_the_cache_and_readers_then_get_them_without_the_server()
    {
        await using var s = await StartPrefetchingAsync();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Commit(f, (0, "a"), (1, "b"), (2, "c")));
        var path = s.HeadPath(f);
        Assert.Equal("[0,0,0]", Bits(Cached(path, 3))); // unknown to the kernel at that commit: not prefetched

        var before = s.Stat("readbytes");
        await s.WaitHeadAtAsync(s.Commit(f, (1, "B"), (2, "C")));
        await UntilCachedAsync(path, 3, "[0,1,1]"); // exactly the changed blocks
        var prefetched = await UntilReadBytesAsync(s, before + 2 * 4096);

        Assert.Equal("B", ReadBlock(path, 1));
        Assert.Equal("C", ReadBlock(path, 2));
        Assert.Equal(prefetched, s.Stat("readbytes")); // from the cache
        Assert.Equal("a", ReadBlock(path, 0));
        await UntilReadBytesAsync(s, prefetched + 4096); // the unchanged block came from the server: the count can move
    }

    [Fact]
    public async Task A_block_whose_read_would_pin_a_watcher_behind_the_commit_waits_until_the_watcher_moves_and_is_never_pinned_for_it()
    {
        await using var s = await StartPrefetchingAsync();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        await s.WaitHeadAtAsync(at1);
        var path = s.HeadPath(f);
        Assert.True(File.Exists(path)); // known to the kernel
        await using var link = new RawLink(s.Mountpoint);
        Assert.Empty(await link.WatchAsync(1, f, at1));

        var at2 = s.Commit(f, (0, "a2"));
        await s.WaitHeadAtAsync(at2);
        Assert.True(await link.QuietAsync(0.5), "a prefetch sent a pin");
        Assert.Equal("[0]", Bits(Cached(path, 1))); // it would have to pin the watcher at at1: left alone
        Assert.Equal(0, s.Stat("pin"));

        Assert.Empty(await link.WatchAsync(3, f, at2)); // the watcher catches up: nothing to pin
        await UntilCachedAsync(path, 1, "[1]");
        Assert.Equal("a2", ReadBlock(path, 0));
        Assert.Equal(0, s.Stat("pin"));
        Assert.True(await link.QuietAsync(0.2), "a prefetch sent a pin");
    }

    [Fact]
    public async Task Off_by_default_in_these_tests_a_changed_block_stays_out_of_the_cache()
    {
        // Twin of the first test with prefetch-committed = off: the residency check can fail.
        await using var s = await StartAsync();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Commit(f, (0, "a"), (1, "b")));
        var path = s.HeadPath(f);
        Assert.True(File.Exists(path));
        await s.WaitHeadAtAsync(s.Commit(f, (1, "B")));
        await Task.Delay(300); // why: give a (wrongly enabled) prefetch time to show up; nothing to wait on when it is off
        Assert.Equal("[0,0]", Bits(Cached(path, 2)));
    }
}
