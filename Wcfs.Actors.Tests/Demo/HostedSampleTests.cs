// HostedSampleTests - samples/HostedSample as a user runs it: a real process hosting the runtime
// with Microsoft.Extensions.Hosting + Akka.Hosting + WithWcfs + Serilog, committing to a real SQLite
// database in its own data dir.
using System.Diagnostics;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Demo;

public sealed class HostedSampleTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-sample");

    private async Task<(int Exit, string Out)> RunSampleAsync()
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "wcfs-hosted-sample.dll"));
        psi.ArgumentList.Add(_dir.File("data"));
        psi.ArgumentList.Add(_dir.File("mnt"));
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var p = Process.Start(psi)!;
        try
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TestTimeouts.Default);
            await p.WaitForExitAsync(cts.Token);
            var text = await stdout + await stderr;
            output.WriteLine(text);
            return (p.ExitCode, text);
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
    }

    [Fact]
    public async Task The_hosted_sample_commits_to_the_data_dir_it_is_given_and_sees_its_previous_run()
    {
        try
        {
            var first = await RunSampleAsync();
            Assert.True(first.Exit == 0, first.Out);
            Assert.Contains("has 1024 elements", first.Out, StringComparison.Ordinal);
            Assert.Contains("health Healthy: WCFS: server pid ", first.Out, StringComparison.Ordinal); // WithWcfs's check, run by the host
            Assert.Contains($"sqlite://{_dir.File("data")}/wcfs.db", first.Out, StringComparison.Ordinal);
            Assert.True(File.Exists(_dir.File("data/wcfs.db")));

            var second = await RunSampleAsync();
            Assert.True(second.Exit == 0, second.Out);
            Assert.Contains("has 2048 elements", second.Out, StringComparison.Ordinal);
        }
        finally
        {
            // the sample's database autostarted a WCFS server under our mount root: stop it
            var config = _dir.File("stop.conf");
            File.WriteAllText(config, $"wcfs.mount-root = \"{_dir.File("mnt")}\"\n");
            var stop = await WcfsCli.RunAsync("stop", $"sqlite://{_dir.File("data")}/wcfs.db", "--config", config);
            output.WriteLine($"stop: {stop}");
        }
    }

    public void Dispose() => _dir.Dispose();
}
