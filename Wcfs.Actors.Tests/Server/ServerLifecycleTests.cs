// serve/status/stop/mountpoint, stale mount recovery, racing starters, autostart (PROTOCOL.md §5).
using System.Diagnostics;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public sealed class ServerLifecycleTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "wcfs-lifecycle-" + Guid.NewGuid().ToString("N")[..10]);
    private readonly string _url;
    private readonly string _config;
    private readonly string _mnt;

    public ServerLifecycleTests()
    {
        Directory.CreateDirectory(_root);
        _url = "sqlite://" + Path.Combine(_root, "db.sqlite");
        _config = Path.Combine(_root, "wcfs.conf");
        File.WriteAllText(_config, $"wcfs {{ mount-root = \"{Path.Combine(_root, "mnt")}\"\n server.pin-timeout = 3s }}\n");
        _mnt = MountPoint.For(_url, Path.Combine(_root, "mnt"));
        using var s = StorageFactory.Open(_url); // create the database
    }

    private static async Task<(int Code, string Out)> WcfsAsync(string args, double seconds = 40)
    {
        var psi = new ProcessStartInfo("dotnet", $"{WcfsDll} {args}") { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Scaled(seconds));
        await p.WaitForExitAsync(cts.Token);
        return (p.ExitCode, await stdout + await stderr);
    }

    private Process StartServe(string extra = "") =>
        Process.Start(new ProcessStartInfo("dotnet", $"{WcfsDll} serve {_url} --config {_config} {extra}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;

    private async Task WaitRunningAsync()
    {
        var deadline = DateTime.UtcNow + Scaled(30);
        while ((await MountPoint.ProbeAsync(_mnt, Scaled(5))).State != ServerState.Running)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"no server at {_mnt} within 30s");
            await Task.Delay(20); // why: the mount appears asynchronously; no event to wait on
        }
    }

    [Fact]
    public async Task Mountpoint_is_the_url_hash_under_the_mount_root()
    {
        var (code, output) = await WcfsAsync($"mountpoint {_url} --config {_config}");
        Assert.Equal(0, code);
        Assert.Equal(_mnt, output.Trim());
        Assert.Equal(16, Path.GetFileName(_mnt).Length);
        Assert.Equal(MountPoint.For(_url, "/x"), MountPoint.For(" " + _url.Replace("sqlite://", "", StringComparison.Ordinal), "/x"));
    }

    [Fact]
    public async Task Serve_status_and_stop_run_and_end_a_server()
    {
        using var serve = StartServe();
        try
        {
            await WaitRunningAsync();
            var (code, output) = await WcfsAsync($"status {_url} --config {_config}");
            Assert.Equal(0, code);
            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.All(lines, l => Assert.StartsWith("ok - ", l));
            Assert.Equal(["mount", "server", "stats", "head", "links", "pins", "reads"], lines.Select(l => l.Split(' ')[2]));

            (code, _) = await WcfsAsync($"stop {_url} --config {_config}");
            Assert.Equal(0, code);
            using var cts = new CancellationTokenSource(Scaled(10));
            await serve.WaitForExitAsync(cts.Token);
            Assert.Equal(0, serve.ExitCode);
            Assert.False(MountPoint.IsMounted(_mnt));

            (code, output) = await WcfsAsync($"status {_url} --config {_config}");
            Assert.Equal(1, code);
            Assert.Contains("fail - mount", output);
        }
        finally
        {
            Cleanup(serve);
        }
    }

    [Fact]
    public async Task A_killed_server_leaves_a_stale_mount_that_the_next_start_cleans_up()
    {
        using var first = StartServe();
        Process? second = null;
        try
        {
            await WaitRunningAsync();
            first.Kill();
            await first.WaitForExitAsync().WaitAsync(Scaled(15)); // SIGKILL: bounded all the same
            Assert.True(MountPoint.IsMounted(_mnt));
            Assert.Equal(ServerState.Stale, (await MountPoint.ProbeAsync(_mnt, Scaled(5))).State);

            second = StartServe();
            await WaitRunningAsync();
            Assert.Equal(_url, File.ReadAllText(Path.Combine(_mnt, ".wcfs", "zurl")));
        }
        finally
        {
            Cleanup(first);
            if (second is not null)
                Cleanup(second);
        }
    }

    [Fact]
    public async Task Concurrent_starters_end_with_exactly_one_server()
    {
        var starters = Enumerable.Range(0, 3).Select(_ => StartServe()).ToList();
        try
        {
            await WaitRunningAsync();
            // all but one exit with 1 ("another wcfs server ... is starting or running"): wait for
            // two exits under one bound (a loaded machine may take long to run the losers' checks)
            var exits = starters.ToDictionary(p => p, p => p.WaitForExitAsync());
            var bound = Task.Delay(Scaled(30)); // why: the bound of the wait for the two losers' exits
            while (exits.Values.Count(t => t.IsCompleted) < 2)
                Assert.True(await Task.WhenAny(exits.Values.Where(t => !t.IsCompleted).Append(bound)) != bound,
                    $"only {exits.Values.Count(t => t.IsCompleted)} of 3 concurrent starters exited within 30s; expected all but one to give up");
            var losers = starters.Where(p => exits[p].IsCompleted).ToList();
            Assert.Equal(2, losers.Count);
            Assert.All(losers, p => Assert.Equal(1, p.ExitCode));
            Assert.Single(starters, p => !p.HasExited); // the winner serves
            Assert.Equal(1, File.ReadAllLines("/proc/self/mountinfo").Count(l => l.Contains(_mnt, StringComparison.Ordinal)));
        }
        finally
        {
            foreach (var p in starters)
                Cleanup(p);
        }
    }

    [Fact]
    public async Task EnsureRunning_starts_a_detached_server_once_and_finds_it_afterwards()
    {
        var settings = WcfsSettings.FromConfig(Akka.Configuration.ConfigurationFactory.ParseString(File.ReadAllText(_config)));
        try
        {
            var mnt = await WcfsServer.EnsureRunningAsync(_url, settings, Scaled(30));
            Assert.Equal(_mnt, mnt);
            var pid = MountPoint.ServerPid(mnt);
            Assert.NotNull(pid);
            Assert.Equal(mnt, await WcfsServer.EnsureRunningAsync(_url, settings, Scaled(30)));
            Assert.Equal(pid, MountPoint.ServerPid(mnt));
            Assert.Equal("3.0", File.ReadAllText(Path.Combine(mnt, ".wcfs", "pintimeout")));
            // RuntimeKnobs reach the server through setsid (the environment of the detached start)
            var environ = File.ReadAllText($"/proc/{pid}/environ").Split('\0');
            var expected = Environment.GetEnvironmentVariable("DOTNET_JitHostMaxSlabCache") ?? "1";
            Assert.Contains("DOTNET_JitHostMaxSlabCache=" + expected, environ);
        }
        finally
        {
            await WcfsAsync($"stop {_url} --config {_config}");
        }
    }

    private void Cleanup(Process p)
    {
        if (!p.HasExited)
        {
            Wcfs.Actors.Server.ProcessHandle.SignalChild(p, Wcfs.Native.Interop.Libc.SIGTERM);
            if (!p.WaitForExit(Scaled(10)))
                p.Kill();
        }
    }

    public void Dispose()
    {
        if (MountPoint.IsMounted(_mnt))
            MountPoint.Unmount(_mnt);
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
