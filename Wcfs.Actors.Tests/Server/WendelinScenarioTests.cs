// Scenarios of wendelin.core's wcfs tests that the other server test classes do not cover, against
// a real server: a restart over existing history, two files on one link, bye with a pin
// outstanding, no second pin after the page left the cache, a stopped watch, an unchanged hole,
// reopening a file. Links that may receive pins live in child processes where a wrong kill would
// hit the test host otherwise.
using Wcfs.Native.Interop;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class WendelinScenarioTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task After_a_restart_over_history_older_than_the_window_setup_and_pins_fall_back_to_the_start_of_the_servers_history()
    {
        // A 1 ms window: the commits before the restart are older than it, so the new server does
        // not load them (wendelin.core's restart: the history starts at the new server's head).
        var s = await StartAsync(server: c => c with { HistoryWindow = TimeSpan.FromMilliseconds(1) });
        await using (s)
        {
            var f = s.CreateFile();
            var at1 = s.Commit(f, (0, "a1"), (1, "b1"));
            var at2 = s.Commit(f, (0, "a2"));
            await s.WaitHeadAtAsync(at2);
            Assert.Equal("a2", ReadBlock(s.HeadPath(f), 0));
            await s.KillHardAsync();
            await s.RestartAsync();
            Assert.Equal(at2, s.HeadAt()); // the new server's history starts here

            Assert.Equal("a2", ReadBlock(s.HeadPath(f), 0));
            Assert.Equal("b1", ReadBlock(s.HeadPath(f), 1));
            await using var link = new RawLink(s.Mountpoint);
            Assert.Empty(await link.WatchAsync(1, f, at2));
            link.Send($"3 watch {f} @{at1}"); // before the new server's history
            Assert.StartsWith($"3 error setup watch {f} @{at1}: too far away back from head/at", await link.NextAsync());

            var at3 = s.Commit(f, (0, "a3"), (1, "b3"));
            await s.WaitHeadAtAsync(at3);
            // lazy pin of an old watch: block 0 and 1 did not change in (start, at2]: pinned to the start
            var read = ReadBlockAsync(s.HeadPath(f), 0);
            var p = LinkClient.ParsePin(await link.NextAsync());
            Assert.Equal((0L, $"@{at2}"), (p.Blk, p.Rev));
            link.Send($"{p.Stream} ack");
            Assert.Equal("a3", await read.WaitAsync(Scaled(10)));
            // a fresh watch at the start: the read block is pinned to the start of the history
            await using var fresh = new RawLink(s.Mountpoint);
            Assert.Equal($"0:@{at2} 1:@{at2}", Text(await fresh.WatchAsync(1, f, at2)));
        }
    }

    [Fact]
    public async Task After_a_restart_the_server_loads_its_history_window_from_the_storage_and_a_watch_before_the_restart_gets_exact_pins()
    {
        var s = await StartAsync(); // the default window (1 min) holds every commit of this test
        await using (s)
        {
            var f = s.CreateFile();
            var at1 = s.Commit(f, (0, "a1"), (1, "b1"), (2, "c1"));
            var at2 = s.Commit(f, (0, "a2"));
            var at3 = s.Commit(f, (1, "b3"));
            await s.WaitHeadAtAsync(at3);
            await s.KillHardAsync();
            await s.RestartAsync();
            Assert.Equal(at3, s.HeadAt());

            foreach (var blk in new[] { 0, 1, 2 })
                _ = ReadBlock(s.HeadPath(f), blk); // the blocks a watch setup pins are the read ones
            await using var link = new RawLink(s.Mountpoint);
            // exactly as if the server had seen the commits: changed after at1 → pinned to at1
            Assert.Equal($"0:@{at1} 1:@{at1}", Text(await link.WatchAsync(1, f, at1)));
            await using var mid = new RawLink(s.Mountpoint);
            Assert.Equal($"1:@{at1}", Text(await mid.WatchAsync(1, f, at2))); // block 1 as of at2: written at1
            // and a commit after the restart pins lazily against the loaded history too
            var at4 = s.Commit(f, (2, "c4"));
            await s.WaitHeadAtAsync(at4);
            var read = ReadBlockAsync(s.HeadPath(f), 2);
            var p = LinkClient.ParsePin(await link.NextAsync());
            Assert.Equal((2L, $"@{at1}"), (p.Blk, p.Rev));
            link.Send($"{p.Stream} ack");
            var q = LinkClient.ParsePin(await mid.NextAsync());
            Assert.Equal((2L, $"@{at1}"), (q.Blk, q.Rev));
            mid.Send($"{q.Stream} ack");
            Assert.Equal("c4", await read.WaitAsync(Scaled(10)));
        }
    }

    [Fact]
    public async Task Two_files_on_one_link_get_their_own_pins_and_unpins()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var g = s.CreateFile();
        var at1 = s.Commit(f, (0, "f1"));
        s.Commit(g, (0, "g1"), (1, "h1"));
        var at2 = s.Storage.LastTid;
        var at3 = s.Commit(f, (0, "f3"));
        var at4 = s.Commit(g, (1, "h4"));
        await s.WaitHeadAtAsync(at4);
        Assert.Equal("f3", ReadBlock(s.HeadPath(f), 0));
        Assert.Equal("g1", ReadBlock(s.HeadPath(g), 0));
        Assert.Equal("h4", ReadBlock(s.HeadPath(g), 1));

        await using var link = new RawLink(s.Mountpoint);
        Assert.Equal($"0:@{at1}", Text(await link.WatchAsync(1, f, at1)));
        Assert.Equal($"1:@{at2}", Text(await link.WatchAsync(3, g, at2)));
        Assert.Equal(2, s.Stat("Watch"));
        // moving f to at3: its block 0 no longer needs a pin; g keeps its own
        Assert.Equal("0:@head", Text(await link.WatchAsync(5, f, at3)));
        Assert.Equal(1, s.Stat("PinnedBlk"));
        Assert.Equal("1:@head", Text(await link.WatchAsync(7, g, at4)));
        Assert.Equal(0, s.Stat("PinnedBlk"));

        // lazy pins reach the right file's watch only
        var at5 = s.Commit(g, (0, "g5"));
        await s.WaitHeadAtAsync(at5);
        var read = ReadBlockAsync(s.HeadPath(g), 0);
        var frame = await link.NextAsync();
        var p = LinkClient.ParsePin(frame);
        Assert.Equal($"{p.Stream} pin {g} #0 @{at2}", frame);
        link.Send($"{p.Stream} ack");
        Assert.Equal("g5", await read.WaitAsync(Scaled(10)));
        Assert.Equal("f3", ReadBlock(s.HeadPath(f), 0));
        Assert.True(await link.QuietAsync(0.2));
    }

    [Fact]
    public async Task Bye_with_a_pin_outstanding_is_not_a_kill_and_later_commits_work()
    {
        var s = shared.StartTest();
        var killsBefore = s.Stat("pinkill");
        var (f, at1, at2) = await s.FileWithTwoRevisionsAsync();
        await using var client = await ChildLink.StartAsync(s.Mountpoint);
        Assert.Empty(await client.WatchAsync(1, f, at1));
        var read = ReadBlockAsync(s.HeadPath(f), 0);
        var p = LinkClient.ParsePin(await client.NextAsync());
        Assert.Equal(0L, p.Blk);
        client.Send("3 bye"); // instead of the ack
        await client.ExpectAsync("EOF");
        Assert.Equal("a2", await read.WaitAsync(Scaled(10)));
        Assert.False(client.Process.HasExited);
        Assert.Equal(killsBefore, s.Stat("pinkill"));

        var at3 = s.Commit(f, (0, "a3"));
        await s.WaitHeadAtAsync(at3);
        Assert.Equal("a3", ReadBlock(s.HeadPath(f), 0));
        await using var link = new RawLink(s.Mountpoint);
        Assert.Equal($"0:@{at2}", Text(await link.WatchAsync(1, f, at2)));
    }

    [Fact]
    public async Task A_block_read_again_after_its_page_left_the_cache_is_not_pinned_twice()
    {
        var s = shared.StartTest();
        var (f, at1, at2) = await s.FileWithTwoRevisionsAsync();
        await using var link = new RawLink(s.Mountpoint);
        Assert.Empty(await link.WatchAsync(1, f, at1));
        var read = ReadBlockAsync(s.HeadPath(f), 0);
        var p = LinkClient.ParsePin(await link.NextAsync());
        link.Send($"{p.Stream} ack");
        Assert.Equal("a2", await read.WaitAsync(Scaled(10)));

        Evict(s.HeadPath(f));
        Assert.Equal("[0]", Bits(Cached(s.HeadPath(f), 1)));
        Assert.Equal("a2", ReadBlock(s.HeadPath(f), 0)); // reaches the server again
        Assert.True(await link.QuietAsync(0.3), "the block is pinned already: no second pin");
        Assert.Equal(1, s.Stat("PinnedBlk"));
    }

    [Fact]
    public async Task A_stopped_watch_gets_no_pins()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        await s.WaitHeadAtAsync(at1);
        _ = File.Exists(s.HeadPath(f));
        await using var link = new RawLink(s.Mountpoint);
        Assert.Empty(await link.WatchAsync(1, f, at1));
        link.Send($"3 watch {f} -");
        await link.ExpectAsync("3 ok");
        var at2 = s.Commit(f, (0, "a2"));
        await s.WaitHeadAtAsync(at2);
        Assert.Equal("a2", await ReadBlockAsync(s.HeadPath(f), 0).WaitAsync(Scaled(10)));
        Assert.True(await link.QuietAsync(0.3));
    }

    [Fact]
    public async Task An_unchanged_hole_is_not_pinned()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"), (2, "c1")); // block 1: a hole, never written
        var at2 = s.Commit(f, (0, "a2"));
        await s.WaitHeadAtAsync(at2);
        for (var b = 0; b < 3; b++)
            ReadBlock(s.HeadPath(f), b);
        await using var link = new RawLink(s.Mountpoint);
        Assert.Equal($"0:@{at1}", Text(await link.WatchAsync(1, f, at1)));
        Assert.Equal("", ReadBlock(s.HeadPath(f), 1));
        Assert.True(await link.QuietAsync(0.3));
    }

    [Fact]
    public async Task A_file_closed_and_reopened_shows_the_latest_data_and_keeps_its_pins()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        await s.WaitHeadAtAsync(at1);
        await using var link = new RawLink(s.Mountpoint);
        using (var h = File.OpenHandle(s.HeadPath(f)))
            Assert.Equal(4096, RandomAccess.Read(h, new byte[4096], 0));
        Assert.Empty(await link.WatchAsync(1, f, at1));
        var at2 = s.Commit(f, (0, "a2"));
        await s.WaitHeadAtAsync(at2);
        var read = ReadBlockAsync(s.HeadPath(f), 0); // a fresh open of the closed file
        var p = LinkClient.ParsePin(await link.NextAsync());
        Assert.Equal((0L, $"@{at1}"), (p.Blk, p.Rev));
        link.Send($"{p.Stream} ack");
        Assert.Equal("a2", await read.WaitAsync(Scaled(10)));
        Assert.Equal("a2", ReadBlock(s.HeadPath(f), 0));
        Assert.True(await link.QuietAsync(0.2));
    }

    private static string Text(SortedDictionary<long, string> pins) => string.Join(" ", pins.Select(p => $"{p.Key}:{p.Value}"));

    /// <summary>Drops the file's clean pages from the page cache (POSIX_FADV_DONTNEED).</summary>
    private static void Evict(string path)
    {
        using var h = File.OpenHandle(path);
        var rc = Libc.DropPageCache(h);
        Assert.Equal(0, rc);
    }
}
