// Every error of the watch link (PROTOCOL.md §4.2, §4.3) against a real server.
using Wcfs.Actors.Storage;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class WatchLinkErrorTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task Malformed_requests_get_error_replies_and_the_link_stays_up()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at = s.Commit(f, (0, "x"));
        await s.WaitHeadAtAsync(at);
        _ = File.Exists(s.HeadPath(f)); // look the file up
        await using var link = new RawLink(s.Mountpoint);
        link.Send("1 hello world");
        await link.ExpectAsync("1 error bad watch: not a watch request: \"hello world\"");
        link.Send("3 watch a b c");
        await link.ExpectAsync("3 error bad watch: expected 2 arguments, got 3");
        link.Send("5 watch 12 @" + at);
        await link.ExpectAsync("5 error bad watch: invalid oid");
        link.Send($"7 watch {f} {at}");
        await link.ExpectAsync("7 error bad watch: invalid at");
        link.Send($"9 watch {f} @{at}");
        await link.ExpectAsync("9 ok");
    }

    [Fact]
    public async Task An_unframed_line_closes_the_link_with_invalid_frame()
    {
        var s = shared.StartTest();
        await using var link = new RawLink(s.Mountpoint);
        link.Send("hello");
        await link.ExpectAsync("0 error: invalid frame: \"hello\"");
        await link.ExpectAsync("EOF");
    }

    [Fact]
    public async Task An_over_long_line_closes_the_link_with_invalid_frame()
    {
        var s = shared.StartTest();
        await using var link = new RawLink(s.Mountpoint);
        var longText = "1 " + new string('x', 300);
        link.Send(longText);
        var f = await link.NextAsync();
        Assert.StartsWith("0 error: invalid frame: \"1 xxx", f);
        await link.ExpectAsync("EOF");
    }

    [Fact]
    public async Task Watch_of_a_file_never_looked_up_is_refused()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at = s.Commit(f, (0, "x"));
        await s.WaitHeadAtAsync(at);
        await using var link = new RawLink(s.Mountpoint);
        link.Send($"1 watch {f} @{at}");
        await link.ExpectAsync($"1 error setup watch {f} @{at}: file not yet known to wcfs or is not a big file");
    }

    [Fact]
    public async Task Watch_older_than_the_history_window_is_too_far_away_back()
    {
        Tid old = default;
        Oid f = default;
        await using var s = await StartAsync(prepare: p =>
        {
            f = p.CreateFile();
            old = p.Commit(f, (0, "old"));
            p.Commit(f, (0, "new"));
        }, server: c => c with { HistoryWindow = TimeSpan.FromMilliseconds(1) }); // both commits are older than the window
        _ = File.Exists(s.HeadPath(f));
        await using var link = new RawLink(s.Mountpoint);
        link.Send($"1 watch {f} @{old}");
        var reply = await link.NextAsync();
        Assert.StartsWith($"1 error setup watch {f} @{old}: too far away back from head/at", reply);
    }

    [Fact]
    public async Task Moving_a_watch_back_in_history_is_forbidden_and_leaves_it_unchanged()
    {
        var s = shared.StartTest();
        var (f, at1, at2) = await s.FileWithTwoRevisionsAsync();
        await using var link = new RawLink(s.Mountpoint);
        Assert.Empty(await link.WatchAsync(1, f, at2));
        link.Send($"3 watch {f} @{at1}");
        await link.ExpectAsync($"3 error setup watch {f} @{at1}: going back in history is forbidden (watch is at @{at2})");
        Assert.Empty(await link.WatchAsync(5, f, at2)); // the same at again is fine
    }

    [Fact]
    public async Task Watch_at_a_future_revision_waits_for_that_commit()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        await s.WaitHeadAtAsync(at1);
        _ = File.Exists(s.HeadPath(f));
        await using var link = new RawLink(s.Mountpoint);
        var future = new Tid(at1.Value + 1);
        link.Send($"1 watch {f} @{future}");
        Assert.True(await link.QuietAsync(0.5), "the reply must wait for a commit ≥ at");
        s.Commit(f, (1, "b2"));
        await link.ExpectAsync("1 ok");
    }

    [Fact]
    public async Task Watch_stop_and_bye_close_cleanly()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at = s.Commit(f, (0, "x"));
        await s.WaitHeadAtAsync(at);
        _ = File.Exists(s.HeadPath(f));
        await s.WaitNoLinksAsync(); // the counters below are absolute
        var killsBefore = s.Stat("pinkill");
        await using var link = new RawLink(s.Mountpoint);
        Assert.Empty(await link.WatchAsync(1, f, at));
        Assert.Equal(1, s.Stat("Watch"));
        link.Send($"3 watch {f} -");
        await link.ExpectAsync("3 ok");
        Assert.Equal(0, s.Stat("Watch"));
        link.Send("5 bye");
        await link.ExpectAsync("EOF");
        Assert.Equal(killsBefore, s.Stat("pinkill"));
    }
}

public class HistoryWindowTests
{
    [Fact]
    public async Task History_is_kept_for_live_watches_and_trimmed_past_the_window_once_they_close()
    {
        var conf = Path.Combine(Path.GetTempPath(), $"wcfs-window-{Guid.NewGuid():N}.conf");
        await File.WriteAllTextAsync(conf, "wcfs.server.history-window = 1s\n");
        try
        {
            await using var s = await StartAsync(extraArgs: $"--config {conf}");
            var f = s.CreateFile();
            var at1 = s.Commit(f, (0, "a1"));
            await s.WaitHeadAtAsync(at1);
            _ = File.Exists(s.HeadPath(f));
            var window = TimeSpan.FromSeconds(1);
            await using (var holder = new RawLink(s.Mountpoint))
            {
                Assert.Empty(await holder.WatchAsync(1, f, at1));
                await Task.Delay(window + Scaled(0.2)); // why: the records must be older than the window
                await s.WaitHeadAtAsync(s.Commit(f, (0, "a2"))); // a commit trims; the live watch @at1 keeps it
                await using var other = new RawLink(s.Mountpoint);
                Assert.Empty(await other.WatchAsync(1, f, at1));
            }
            await Task.Delay(window + Scaled(0.2)); // why: the records must be older than the window
            await s.WaitHeadAtAsync(s.Commit(f, (0, "a3")));
            await using var late = new RawLink(s.Mountpoint);
            late.Send($"1 watch {f} @{at1}");
            Assert.StartsWith($"1 error setup watch {f} @{at1}: too far away back from head/at", await late.NextAsync());
        }
        finally
        {
            File.Delete(conf);
        }
    }
}
