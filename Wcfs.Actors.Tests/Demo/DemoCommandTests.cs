// DemoCommandTests - `wcfs demo` as a user runs it (issue 7 part 3), CI-sized: a real `wcfs`
// process, an autostarted real WCFS server, real SQLite, real worker processes mapping through FUSE.
// Each test has its own data dir and mount root (a --config file) and stops its server in finally.
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Demo;

public sealed class DemoCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-demo");

    private string WriteConfig()
    {
        var path = _dir.File("demo.conf");
        File.WriteAllText(path, $"wcfs {{\n  data-dir = \"{_dir.File("data")}\"\n  mount-root = \"{_dir.File("mnt")}\"\n}}\n");
        return path;
    }

    [Fact]
    public async Task Demo_with_two_workers_on_64MiB_reports_its_checks_passed_with_pins_and_prints_the_summary()
    {
        var config = WriteConfig();
        try
        {
            // the demo starts a server and two worker processes: minutes, not seconds, on a loaded 2-core machine
            var r = await WcfsCli.RunLongAsync(TestTimeouts.Scale(TimeSpan.FromMinutes(3)), "demo", "--size", "64MiB", "--workers", "2", "--config", config);
            output.WriteLine(r.Out);
            output.WriteLine(r.Stderr);
            Assert.True(r.ExitCode == 0, r.ToString());
            Assert.Contains("demo: all 2 checks passed", r.Out, StringComparison.Ordinal);
            Assert.Equal(2, r.Out.Split('\n').Count(l => l.TrimStart().StartsWith("worker ", StringComparison.Ordinal) && l.EndsWith("MB/s)", StringComparison.Ordinal) && l.Contains(" ok (", StringComparison.Ordinal)));
            foreach (var what in new[] { "throughput", "memory", "data lives", _dir.File("data") })
                Assert.Contains(what, r.Out, StringComparison.Ordinal);
            // each worker connected before a change was committed, so each one needed pins to keep its snapshot
            Assert.Contains("snapshots   2 distinct revisions among 2 workers", r.Out, StringComparison.Ordinal);
            var pins = System.Text.RegularExpressions.Regex.Match(r.Out, @"pins +(\d+) handled");
            Assert.True(pins.Success && long.Parse(pins.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, "no pins counted: " + r.Out);

            // a second run on the same database drops the first run's array, so runs do not pile up
            var again = await WcfsCli.RunLongAsync(TestTimeouts.Scale(TimeSpan.FromMinutes(3)), "demo", "--size", "4MiB", "--workers", "1", "--config", config);
            output.WriteLine(again.Out);
            Assert.True(again.ExitCode == 0, again.ToString());
            Assert.Contains("dropped: 64.0 MiB released", again.Out, StringComparison.Ordinal);
            Assert.Contains("demo: all 1 checks passed", again.Out, StringComparison.Ordinal);
        }
        finally
        {
            var stop = await WcfsCli.RunAsync("stop", "--config", config);
            output.WriteLine($"stop: {stop}");
        }
    }

    [Fact]
    public async Task Demo_refuses_a_size_that_is_not_a_multiple_of_the_block_size_with_a_usage_error()
    {
        var r = await WcfsCli.RunAsync("demo", "--size", "3MiB", "--config", WriteConfig());
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("--size", r.Stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("mnt")), "a usage error must not start a server");
    }

    [Fact]
    public async Task A_worker_without_a_server_fails_with_one_line_naming_the_mountpoint()
    {
        var mnt = _dir.File("no-server");
        var r = await WcfsCli.RunAsync("demo", "worker", "--url", "sqlite://" + _dir.File("x.db"), "--mountpoint", mnt, "--blocks", "1");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(mnt, r.Stderr, StringComparison.Ordinal);
        Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("result", r.Out, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}
