// BenchCommand - `wcfs bench [NAME...] [--json FILE] [--quick]` (TESTING.md §4).
//
// Every case measures the project's figure and a baseline in the same run and prints both with
// their ratio. Cases live in BenchRegistry (one line to add one); each gets a private temp
// directory that is removed afterwards. --quick shrinks sizes so CI can run every case.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;

namespace Wcfs.Host.Cli;

/// <summary>
/// One figure of one case: the project's value next to the baseline's (medians when measured in
/// repetitions; then the min–max of each is kept too).
/// </summary>
internal sealed record BenchResult(string Case, string Metric, string Unit, double Wcfs, double Baseline, bool HigherIsBetter, double? Goal = null)
{
    /// <summary>wcfs / baseline.</summary>
    public double Ratio => Baseline == 0 ? double.NaN : Wcfs / Baseline;

    /// <summary>Min and max of the project's repetitions (null: one measurement).</summary>
    public (double Min, double Max)? WcfsRange { get; init; }

    /// <summary>Min and max of the baseline's repetitions (null: one measurement).</summary>
    public (double Min, double Max)? BaselineRange { get; init; }

    /// <summary>Repetitions behind each value (1: one measurement).</summary>
    public int Reps { get; init; } = 1;

    /// <summary>The figure from repetitions: medians, with min–max.</summary>
    public static BenchResult FromReps(string @case, string metric, string unit, IReadOnlyList<double> wcfs, IReadOnlyList<double> baseline, bool higherIsBetter) =>
        new(@case, metric, unit, Median(wcfs), Median(baseline), higherIsBetter)
        {
            WcfsRange = (wcfs.Min(), wcfs.Max()),
            BaselineRange = (baseline.Min(), baseline.Max()),
            Reps = Math.Min(wcfs.Count, baseline.Count),
        };

    /// <summary>The median (mean of the two middle values for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
            throw new ArgumentException("no values", nameof(values));
        var s = values.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>Bounded waits of bench cases: each names what it waited for when it gives up.</summary>
internal static class BenchWait
{
    /// <summary>Polls <paramref name="done"/> (every <paramref name="every"/>) until true; throws naming <paramref name="what"/> after <paramref name="limit"/>.</summary>
    public static async Task UntilAsync(Func<bool> done, TimeSpan limit, string what, CancellationToken ct, TimeSpan? every = null)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!done())
        {
            if (DateTime.UtcNow > deadline)
                throw new CommandException($"bench gave up after {limit.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(every ?? TimeSpan.FromMilliseconds(1), ct); // why: bench sampling interval while a case runs, not at rest
        }
    }
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
                Wcfs.Actors.Protocol.PrivateFiles.EnsurePrivateDirectory(tmp); // 0700: it is the benchmark servers' mount root
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
                    reps = x.Reps, wcfsMin = x.WcfsRange?.Min, wcfsMax = x.WcfsRange?.Max, baselineMin = x.BaselineRange?.Min, baselineMax = x.BaselineRange?.Max,
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
            x.Case, x.Metric, Num(x.Wcfs) + Range(x.WcfsRange), Num(x.Baseline) + Range(x.BaselineRange), x.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x",
            x.Unit + (x.HigherIsBetter ? " (higher is better)" : " (lower is better)"),
        }));
        var widths = Enumerable.Range(0, 6).Select(i => rows.Max(row => row[i].Length)).ToArray();
        var sb = new System.Text.StringBuilder();
        foreach (var row in rows)
            sb.AppendLine(string.Join("  ", row.Select((cell, i) => i is 2 or 3 or 4 ? cell.PadLeft(widths[i]) : cell.PadRight(widths[i]))).TrimEnd());
        return sb.ToString();
    }

    private static string Range((double Min, double Max)? r) => r is { } x ? $" ({Num(x.Min)}–{Num(x.Max)})" : "";

    private static string Num(double v) => v.ToString(v >= 100 ? "0" : "0.000", CultureInfo.InvariantCulture);
}
