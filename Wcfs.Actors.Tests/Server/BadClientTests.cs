// Bad clients and bad luck against a real server (issue 12, items 1, 2, 5, 7, 8): floods, links that
// never read, watches that wait forever, out-of-range settings, invalidation failures, watches of a
// revision before the file existed. Links that may be killed live in child processes.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Configuration;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class BadClientTests(SharedServer shared) : IClassFixture<SharedServer>
{
    [Fact]
    public async Task A_megabyte_of_requests_is_handled_in_linear_time_and_a_link_that_does_not_read_its_replies_is_closed()
    {
        var s = shared.StartTest();
        await using var flood = new SilentLink(s.Mountpoint);
        var text = new StringBuilder().Insert(0, "1 x\n", 262144).ToString();
        var write = flood.WriteAsync(Encoding.ASCII.GetBytes(text));
        var slowest = await ControlFilesAnswerWhileAsync(s, write, Scaled(30));
        Assert.True(write.IsCompletedSuccessfully, "the 1 MiB write did not complete within 30 s");
        Assert.True(slowest < Scaled(1), $"head/at or .wcfs/stats took {slowest.TotalMilliseconds:0} ms while a link flooded");
        // The replies nobody read filled the link's bounded out-queue: the link ends with an error.
        var (frames, last) = await flood.ReadToEndAsync(Scaled(30));
        Assert.StartsWith("0 error: ", last);
        Assert.Contains("reply queue", last);
        Assert.All(frames.Take(3), f => Assert.Equal("1 error bad watch: not a watch request: \"x\"", f));
        Assert.True(frames.Count < 262144, $"{frames.Count} replies: the out-queue is not bounded");
    }

    [Fact]
    public async Task Too_many_requests_in_flight_close_the_link_with_an_error()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Storage.LastTid);
        _ = File.Exists(s.HeadPath(f));
        await using var link = new RawLink(s.Mountpoint);
        var far = new Wcfs.Actors.Storage.Tid(ulong.MaxValue - 1);
        var text = new StringBuilder();
        for (var i = 0; i < 2000; i++)
            text.Append(2 * i + 1).Append(" watch ").Append(f).Append(" @").Append(far).Append('\n');
        link.SendRaw(text.ToString());
        var last = await link.NextAsync();
        Assert.StartsWith("0 error: ", last);
        Assert.Contains("too many requests", last);
        await link.ExpectAsync("EOF");
    }

    [Fact]
    public async Task A_watch_waiting_for_a_future_revision_ends_with_its_link()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        await s.WaitHeadAtAsync(s.Storage.LastTid);
        _ = File.Exists(s.HeadPath(f));
        var waitingBefore = s.Stat("WatchSetupWaiting");
        var link = new RawLink(s.Mountpoint);
        link.Send($"1 watch {f} @{new Wcfs.Actors.Storage.Tid(ulong.MaxValue - 1)}");
        await WaitForStatAsync(s, "WatchSetupWaiting", waitingBefore + 1);
        await link.DisposeAsync(); // bye
        await WaitForStatAsync(s, "WatchSetupWaiting", waitingBefore);
        // the server still sets up watches for everybody else
        await using var other = new RawLink(s.Mountpoint);
        Assert.Empty(await other.WatchAsync(1, f, s.Storage.LastTid));
    }

    [Fact]
    public async Task A_watch_at_a_revision_before_the_file_existed_is_refused()
    {
        var s = shared.StartTest();
        var before = s.Storage.LastTid;
        await s.WaitHeadAtAsync(before);
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        await s.WaitHeadAtAsync(at1);
        Assert.Equal("a1", ReadBlock(s.HeadPath(f), 0));
        var created = s.Storage.LoadObject(f, at1)!.Serial;
        var watchesBefore = s.Stat("Watch");
        await using var link = new RawLink(s.Mountpoint);
        link.Send($"1 watch {f} @{before}");
        await link.ExpectAsync($"1 error setup watch {f} @{before}: file did not exist yet (created @{created})");
        Assert.Equal(watchesBefore, s.Stat("Watch"));
        Assert.Empty(await link.WatchAsync(3, f, at1)); // the link stays usable
    }

    [Fact]
    public void Every_duration_setting_is_range_checked_and_the_error_names_the_key()
    {
        foreach (var key in new[]
                 {
                     "wcfs.server.pin-timeout", "wcfs.server.history-window", "wcfs.server.rev-dir-idle-timeout",
                     "wcfs.client.ask-timeout", "wcfs.client.start-timeout", "wcfs.client.reattach-timeout", "wcfs.virtmem.ask-timeout",
                 })
        {
            var e = Assert.Throws<Akka.Configuration.ConfigurationException>(() => WcfsSettings.FromHocon($"{key} = 50d"));
            Assert.Contains(key, e.Message);
            Assert.Contains("at most", e.Message);
        }
    }

    [Fact]
    public async Task Serve_refuses_a_pin_timeout_beyond_its_range_with_one_line()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wcfs-range-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var mnt = Path.Combine(dir, "mnt");
        var psi = new ProcessStartInfo("dotnet", $"{WcfsDll} serve sqlite://{dir}/db.sqlite --mountpoint {mnt} --pin-timeout 50d")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        try
        {
            using var cts = new CancellationTokenSource(Scaled(30));
            var err = await p.StandardError.ReadToEndAsync(cts.Token);
            await p.WaitForExitAsync(cts.Token);
            Assert.NotEqual(0, p.ExitCode);
            Assert.Contains("--pin-timeout", err);
            Assert.Single(err.Trim().Split('\n'));
        }
        finally
        {
            await StopAndUnmountAsync(p, mnt);
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task An_invalidation_failure_switches_the_mount_to_EIO_mode()
    {
        await using var s = await StartAsync(extraArgs: "--debug-fail-invalidate");
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        await s.WaitHeadAtAsync(at1);
        Assert.Equal("a1", ReadBlock(s.HeadPath(f), 0)); // in the cache now
        s.Commit(f, (0, "a2"));
        var deadline = DateTime.UtcNow + Scaled(15);
        while (true)
        {
            var e = Record.Exception(() => File.ReadAllText(Path.Combine(s.Mountpoint, "head", "at")));
            if (e is not null)
            {
                Assert.IsType<IOException>(e);
                break;
            }
            Assert.True(DateTime.UtcNow < deadline, "head/at still answers after a failed invalidation");
            await Task.Delay(10); // why: the commit is processed asynchronously; poll head/at
        }
        Assert.Throws<IOException>(() => ReadBlock(s.HeadPath(f), 0));
        await s.AssertLogContainsAsync("EIO mode"); // logged before the switch; the pipe to the test may lag
        Assert.Contains("EIO", File.ReadAllText(Path.Combine(s.Mountpoint, ".wcfs", "stats"))); // still answers, says why
    }

    /// <summary>
    /// Reads head/at (and .wcfs/stats unless <paramref name="headAtOnly"/>) in a loop on a thread of
    /// its own until <paramref name="until"/> ends; returns the slowest answer.
    /// </summary>
    internal static async Task<TimeSpan> ControlFilesAnswerWhileAsync(ServerProcess s, Task until, TimeSpan limit, bool headAtOnly = false)
    {
        var probe = Task.Factory.StartNew(() =>
        {
            var slowest = TimeSpan.Zero;
            var deadline = DateTime.UtcNow + limit;
            while (!until.IsCompleted && DateTime.UtcNow < deadline)
            {
                var t = Stopwatch.StartNew();
                _ = s.HeadAt();
                if (!headAtOnly)
                    _ = s.Stats();
                if (t.Elapsed > slowest)
                    slowest = t.Elapsed;
                Thread.Sleep(5); // why: sampling interval of the latency probe
            }
            return slowest;
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return await probe.WaitAsync(limit + Scaled(10));
    }

    internal static async Task WaitForStatAsync(ServerProcess s, string name, long value)
    {
        var deadline = DateTime.UtcNow + Scaled(15);
        while (s.Stat(name) != value)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{name} did not become {value}:\n{s.Stats()}");
            await Task.Delay(10); // why: .wcfs/stats has no change notification; poll it
        }
    }
}

/// <summary>A link that writes what it is told and reads only when asked (a client that does not read its replies).</summary>
internal sealed class SilentLink(string mountpoint) : IAsyncDisposable
{
    private readonly FileStream _fs = new(Path.Combine(mountpoint, "head", "watch"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0);

    public Task WriteAsync(byte[] data) =>
        Task.Factory.StartNew(() => _fs.Write(data), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Reads the link until EOF: the frames before the last one, and the last one.</summary>
    public async Task<(List<string> Frames, string Last)> ReadToEndAsync(TimeSpan limit)
    {
        var read = Task.Factory.StartNew(() =>
        {
            var all = new MemoryStream();
            var buf = new byte[65536];
            int n;
            while ((n = _fs.Read(buf)) > 0)
                all.Write(buf, 0, n);
            return Encoding.UTF8.GetString(all.ToArray());
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        var text = await read.WaitAsync(limit);
        var frames = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        var last = frames.Count > 0 ? frames[^1] : "";
        if (frames.Count > 0)
            frames.RemoveAt(frames.Count - 1);
        return (frames, last);
    }

    public ValueTask DisposeAsync()
    {
        _fs.Dispose();
        return ValueTask.CompletedTask;
    }
}
