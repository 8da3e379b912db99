// `wcfs status` and `wcfs stats` against a real `wcfs serve` child process, and the lines the
// server's .wcfs/stats grew for them (read, readbytes, headat, pinrtt.recent.*, uptime.s).
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Cli;

public sealed class StatusAndStatsCommandTests : IAsyncLifetime
{
    private ServerProcess _s = null!;

    public async Task InitializeAsync() => _s = await ServerProcess.StartAsync();

    public async Task DisposeAsync() => await _s.DisposeAsync();

    [Fact]
    public async Task The_stats_file_counts_data_reads_and_shows_head_at_after_the_wendelin_lines()
    {
        var f = _s.CreateFile();
        var at = _s.Commit(f, (0, "hello"), (1, "world"));
        await _s.WaitHeadAtAsync(at);
        var before = _s.Stat("read");
        Assert.Equal("hello", ServerProcess.ReadBlock(_s.HeadPath(f), 0));
        Assert.Equal("world", ServerProcess.ReadBlock(_s.RevPath(at, f), 1));

        // The server counts a read right after it answered the kernel: the reader can be faster.
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(10);
        while (_s.Stat("read") < before + 2 && DateTime.UtcNow < deadline)
            await Task.Delay(10); // why: the counter has no change notification
        Assert.True(_s.Stat("read") >= before + 2, $"reads counted: {_s.Stat("read") - before} of 2 within 10 s");
        Assert.True(_s.Stat("readbytes") >= 4096 + 5); // block 0 of head, at least "world" of @at
        var text = _s.Stats();
        Assert.Contains($"headat\t: {at}\n", text);
        var names = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[0]).ToList();
        Assert.Equal(["BigFile", "RevHead", "WatchLink", "Watch", "PinnedBlk", "pin", "pinkill"], names.Take(7)); // wendelin's order kept
        Assert.Subset(names.ToHashSet(), new HashSet<string> { "pinrtt.n", "pinrtt.p50us", "pinrtt.p99us", "pinrtt.recent.p50us", "pinrtt.recent.p99us", "read", "readbytes", "headat", "uptime.s" });
    }

    [Fact]
    public async Task Stats_prints_a_header_and_one_line_per_interval_with_read_rates_and_head_at()
    {
        var f = _s.CreateFile();
        var at = _s.Commit(f, (0, "x"));
        await _s.WaitHeadAtAsync(at);
        // Reads keep reaching the server while the view runs (each commit invalidates the cached
        // block, so the next head read is a server read): the reads/s column must show them. An
        // interval may see none when the machine is loaded (a commit can take longer than it), so the
        // view runs until a line shows reads, bounded - not a fixed number of lines.
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                await _s.WaitHeadAtAsync(_s.Commit(f, (0, $"x{i}")));
                await ServerProcess.ReadBlockAsync(_s.HeadPath(f), 0);
            }
        });
        try
        {
            var counted = await WcfsCli.RunAsync("stats", _s.Url, "--mountpoint", _s.Mountpoint, "--count", "2", "--interval", "500ms");
            Assert.True(counted.ExitCode == 0, counted.ToString());
            var lines = counted.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, lines.Length); // --count 2: the header and two lines
            Assert.StartsWith("    time  reads/s", lines[0]);
            foreach (var line in lines[1..])
                Assert.True(Tid.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]) >= at, $"head at in: {line}");

            using var live = WcfsCli.Start("stats", _s.Url, "--mountpoint", _s.Mountpoint, "--interval", "250ms");
            try
            {
                var seen = new List<string>();
                var deadline = DateTime.UtcNow + TestTimeouts.Default;
                while (true)
                {
                    var line = await live.StandardOutput.ReadLineAsync().WaitAsync(TestTimeouts.Default)
                        ?? throw new Xunit.Sdk.XunitException($"wcfs stats ended: {await live.StandardError.ReadToEndAsync()}\n{string.Join('\n', seen)}");
                    seen.Add(line);
                    if (line.StartsWith("    time", StringComparison.Ordinal))
                        continue;
                    var cols = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    Assert.True(Tid.Parse(cols[^1]) >= at, $"head at in: {line}");
                    if (double.Parse(cols[1], System.Globalization.CultureInfo.InvariantCulture) > 0)
                        break;
                    Assert.True(DateTime.UtcNow < deadline, $"no line with reads/s > 0 within {TestTimeouts.Default}:\n{string.Join('\n', seen)}");
                }
            }
            finally
            {
                live.Kill(); // our own child; it runs until stopped
                await live.WaitForExitAsync().WaitAsync(TestTimeouts.Default);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await reader;
        }
    }

    [Fact]
    public async Task Stats_and_status_say_what_to_do_when_no_server_answers()
    {
        await _s.KillHardAsync();
        var stats = await WcfsCli.RunAsync("stats", _s.Url, "--mountpoint", _s.Mountpoint, "--count", "1");
        Assert.Equal(1, stats.ExitCode);
        Assert.Contains("does not answer", stats.Stderr);
        Assert.Contains("wcfs status", stats.Stderr);

        var status = await WcfsCli.RunAsync("status", _s.Url, "--mountpoint", _s.Mountpoint);
        Assert.Equal(1, status.ExitCode);
        var lines = status.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("ok - mount", lines[0]);  // the stale mount is still there
        Assert.StartsWith("fail - server", lines[1]);
        Assert.Contains("wcfs stop", lines[1]);
        Assert.StartsWith("fail - stats", lines[2]);
    }

    [Fact]
    public async Task Status_prints_one_ok_line_per_check_with_the_servers_figures()
    {
        var f = _s.CreateFile();
        var at = _s.Commit(f, (0, "x"));
        await _s.WaitHeadAtAsync(at);
        var r = await WcfsCli.RunAsync("status", _s.Url, "--mountpoint", _s.Mountpoint);
        Assert.True(r.ExitCode == 0, r.ToString());
        var lines = r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.All(lines, l => Assert.StartsWith("ok - ", l));
        Assert.Contains(lines, l => l.StartsWith("ok - head", StringComparison.Ordinal) && l.Contains($"@{at}", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("ok - server", StringComparison.Ordinal) && l.Contains($"pid {_s.Process.Id}", StringComparison.Ordinal));
    }
}
