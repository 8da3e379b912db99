// BenchCommand - `wcfs bench [NAME...] [--json FILE] [--quick]` (TESTING.md §4).
//
// Every case measures the project's figure and a baseline in the same run and prints both with
// their ratio. Cases live in BenchRegistry (one line to add one); each gets a private temp
// directory that is removed afterwards. --quick shrinks sizes so CI can run every case.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Wcfs.Host.Cli;

/// <summary>One figure of one case: the project's value next to the baseline's; Goal is the ratio the
/// project aims for (null: parity with the baseline), charted on a terminal (BenchOutput).</summary>
internal sealed record BenchResult(string Case, string Metric, string Unit, double Wcfs, double Baseline, bool HigherIsBetter, double? Goal = null)
{
    /// <summary>wcfs / baseline.</summary>
    public double Ratio => Baseline == 0 ? double.NaN : Wcfs / Baseline;
}

/// <summary>What a case gets to run with.</summary>
internal sealed record BenchContext(bool Quick, string TempDir, TextWriter Log);

/// <summary>A benchmark case.</summary>
internal interface IBenchCase
{
    string Name { get; }
    string Description { get; }
    Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext context, CancellationToken ct);
}

internal static class BenchCommand
{
    public static Command Create()
    {
        var names = new Argument<string[]>("name") { Description = "cases to run (default: all): " + string.Join(", ", BenchRegistry.All.Select(c => c.Name)), Arity = ArgumentArity.ZeroOrMore };
        var json = new Option<string?>("--json") { Description = "also write the figures as JSON to FILE", HelpName = "FILE" };
        var quick = new Option<bool>("--quick") { Description = "small sizes (CI)" };
        var dir = new Option<string?>("--dir") { Description = "parent of the temporary directory (default: the system temp dir)", HelpName = "DIR" };
        var cmd = new Command("bench", "benchmarks, side by side with baselines measured in the same run") { names, json, quick, dir };
        cmd.SetAction((r, ct) => CliErrors.RunAsync(async () =>
        {
            var selected = Select(r.GetValue(names) ?? []);
            var results = new List<BenchResult>();
            for (var i = 0; i < selected.Count; i++)
            {
                var c = selected[i];
                var tmp = Path.Combine(r.GetValue(dir) ?? Path.GetTempPath(), $"wcfs-bench-{Environment.ProcessId}-{c.Name}");
                Directory.CreateDirectory(tmp);
                try
                {
                    await BenchOutput.StartedAsync(i + 1, selected.Count, c);
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    var figures = await c.RunAsync(new BenchContext(r.GetValue(quick), tmp, Console.Error), ct);
                    results.AddRange(figures);
                    await BenchOutput.DoneAsync(i + 1, selected.Count, c, System.Diagnostics.Stopwatch.GetElapsedTime(started), figures.Count);
                }
                finally
                {
                    Directory.Delete(tmp, recursive: true);
                }
            }
            BenchOutput.Print(results);
            if (r.GetValue(json) is { } file)
                await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results.Select(x => new
                {
                    @case = x.Case, metric = x.Metric, unit = x.Unit, wcfs = x.Wcfs, baseline = x.Baseline, ratio = x.Ratio, higherIsBetter = x.HigherIsBetter, goal = x.Goal,
                }), new JsonSerializerOptions { WriteIndented = true }), ct);
            return 0;
        }));
        return cmd;
    }

    private static List<IBenchCase> Select(string[] names)
    {
        if (names.Length == 0)
            return [.. BenchRegistry.All];
        return [.. names.Select(n => BenchRegistry.All.FirstOrDefault(c => c.Name == n)
            ?? throw new UsageException($"unknown bench case \"{n}\": expected one of {string.Join(", ", BenchRegistry.All.Select(c => c.Name))}"))];
    }

    public static string FormatTable(IReadOnlyList<BenchResult> results)
    {
        var rows = new List<string[]> { new[] { "case", "metric", "wcfs", "baseline", "ratio", "unit" } };
        rows.AddRange(results.Select(x => new[]
        {
            x.Case, x.Metric, Num(x.Wcfs), Num(x.Baseline), x.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x",
            x.Unit + (x.HigherIsBetter ? " (higher is better)" : " (lower is better)"),
        }));
        var widths = Enumerable.Range(0, 6).Select(i => rows.Max(row => row[i].Length)).ToArray();
        var sb = new System.Text.StringBuilder();
        foreach (var row in rows)
            sb.AppendLine(string.Join("  ", row.Select((cell, i) => i is 2 or 3 or 4 ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]))).TrimEnd());
        return sb.ToString();
    }

    private static string Num(double v) => v.ToString(v >= 100 ? "0" : "0.000", CultureInfo.InvariantCulture);
}
