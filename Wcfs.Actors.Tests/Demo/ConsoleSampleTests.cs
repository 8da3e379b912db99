// ConsoleSampleTests - samples/ConsoleSample as a user runs it: a plain console app (no host, no
// actor system of its own) that calls Database.OpenAsync(url), which autostarts the WCFS server,
// writes through a view, commits and closes. A library never writes to its host's stdout: the app's
// stdout is exactly its own line; nothing the runtime logs below WARNING reaches stderr either
// (Akka's INFO "CoordinatedShutdown invoked ..." went there before: Configuration/StderrLogger.cs).
using System.Diagnostics;
using System.Text.RegularExpressions;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Demo;

public sealed partial class ConsoleSampleTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-console");

    private string Url => $"sqlite://{_dir.File("data.db")}";

    private async Task<(int Exit, string Out, string Err)> RunSampleAsync()
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "wcfs-console-sample.dll"));
        psi.ArgumentList.Add(Url);
        psi.ArgumentList.Add(_dir.File("mnt"));
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["WCFS_EXE"] = WcfsCli.Dll; // the server it autostarts: the tool these tests run
        using var p = Process.Start(psi)!;
        try
        {
            var stdout = p.StandardOutput.ReadToEndAsync();
            var stderr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TestTimeouts.Scale(TimeSpan.FromSeconds(90))); // start-up and an autostart under load
            await p.WaitForExitAsync(cts.Token);
            var (o, e) = (await stdout, await stderr);
            output.WriteLine($"exit {p.ExitCode}\nstdout:\n{o}\nstderr:\n{e}");
            return (p.ExitCode, o, e);
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true); // our own child
        }
    }

    [Fact]
    public async Task A_console_app_that_opens_a_database_writes_and_commits_gets_nothing_but_its_own_line_on_stdout()
    {
        try
        {
            var (exit, stdout, stderr) = await RunSampleAsync();
            Assert.True(exit == 0, $"exit {exit}: {stderr}");
            Assert.Matches(OneLine(), stdout); // exactly the app's one line: no log line of the runtime, the server or Akka
            Assert.DoesNotMatch(BelowWarning(), stderr);
        }
        finally
        {
            // the sample's database autostarted a WCFS server under our mount root: stop it
            var config = _dir.File("stop.conf");
            File.WriteAllText(config, $"wcfs.mount-root = \"{_dir.File("mnt")}\"\n");
            output.WriteLine($"stop: {await WcfsCli.RunAsync("stop", Url, "--config", config)}");
        }
    }

    [GeneratedRegex(@"\Asample: 1024 elements @[0-9a-f]{16}\n\z")]
    private static partial Regex OneLine();

    [GeneratedRegex(@"\[(INFO|DEBUG)\]")]
    private static partial Regex BelowWarning();

    public void Dispose() => _dir.Dispose();
}
