// BenchCommandTests - `wcfs bench --quick` as CI runs it (issue 7 part 4): a real `wcfs` process
// running every case that needs no PostgreSQL (real SQLite, real FUSE servers as child processes,
// real reader processes). The figures go to the test output; only the shape of the output is
// asserted (exit 0, a table row and JSON entries per case), never the figures themselves.
using System.Diagnostics;
using System.Text.Json;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Cli;

public sealed class BenchCommandTests(ITestOutputHelper output) : IDisposable
{
    private static readonly string[] Cases = ["commit", "loadblock", "fault", "writeout", "fuse-read", "pin", "commit-head", "readers", "client-read", "idle", "pin-load", "lmdb", "history"];

    private readonly TempDirectory _dir = new("wcfs-bench");

    [Fact]
    public async Task Bench_quick_runs_every_case_without_postgres_and_prints_a_row_and_json_for_each()
    {
        var json = _dir.File("bench.json");
        var sw = Stopwatch.StartNew();
        using var p = WcfsCli.Start(["bench", "--quick", "--json", json, "--dir", _dir.Path, .. Cases]);
        string stdout, stderr;
        try
        {
            p.StandardInput.Close();
            var readOut = p.StandardOutput.ReadToEndAsync();
            var readErr = p.StandardError.ReadToEndAsync();
            using var cts = new CancellationTokenSource(TestTimeouts.Scale(TimeSpan.FromMinutes(6)));
            await p.WaitForExitAsync(cts.Token);
            stdout = await readOut;
            stderr = await readErr;
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
        output.WriteLine($"wcfs bench --quick: {sw.Elapsed.TotalSeconds:0.0} s");
        output.WriteLine(stdout);
        output.WriteLine(stderr);
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}: {stderr}");

        var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.StartsWith("case", rows[0], StringComparison.Ordinal);
        foreach (var c in Cases)
            Assert.True(rows.Any(r => r.StartsWith(c + " ", StringComparison.Ordinal)), $"no table row for case {c}:\n{stdout}");

        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var entries = doc.RootElement.EnumerateArray().ToList();
        Assert.Equal(rows.Length - 1, entries.Count);
        foreach (var c in Cases)
            Assert.Contains(entries, e => e.GetProperty("case").GetString() == c);
        foreach (var e in entries)
        {
            Assert.Equal(JsonValueKind.Number, e.GetProperty("wcfs").ValueKind);
            Assert.Equal(JsonValueKind.Number, e.GetProperty("baseline").ValueKind);
            Assert.False(string.IsNullOrEmpty(e.GetProperty("metric").GetString()));
        }
        Assert.Empty(Directory.GetDirectories(_dir.Path, "wcfs-bench-*"));
    }

    public void Dispose() => _dir.Dispose();
}
