// BenchOutput - what `wcfs bench` shows while and after it runs: a progress line per case on
// stderr ("[2/8] bench fault: ..." then "[2/8] fault done in 12.3 s: 4 figures"), and the figures:
// the plain table on stdout (CI parses it when redirected: BenchCommand.FormatTable, format kept
// exactly), and on a terminal after it a chart of each ratio against its goal (Spectre.Console
// colors), one line per figure, narrow enough for 80 columns.
//
// The chart: a log2 scale from 1/32x to 32x (ratios here span 0.03x to 20x), 1.0x (parity with the
// baseline) in the middle; the bar goes from 1.0x to the ratio; the goal is a '┃' mark. Green when
// the ratio meets the goal (ratio ≥ goal when higher is better, ≤ when lower is better; with no
// goal stated, the goal is parity), red when it does not.
using System.Globalization;
using System.Text;
using Spectre.Console;

namespace Wcfs.Host.Cli;

internal static class BenchOutput
{
    private const double ScaleOctaves = 5; // log2 range either side of 1.0x
    private const int BarWidth = 19; // 1/32x at cell 0, 1x at cell 9, 32x at cell 18

    public static Task StartedAsync(int index, int count, IBenchCase c) =>
        Console.Error.WriteLineAsync($"[{index}/{count}] bench {c.Name}: {c.Description}");

    public static Task DoneAsync(int index, int count, IBenchCase c, TimeSpan took, int figures) =>
        Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"[{index}/{count}] {c.Name} done in {took.TotalSeconds:0.0} s: {figures} figures"));

    /// <summary>Prints the figures: the plain table; on a terminal, then a chart of the ratios.</summary>
    public static void Print(IReadOnlyList<BenchResult> results)
    {
        Console.Out.Write(BenchCommand.FormatTable(results));
        if (Console.IsOutputRedirected || results.Count == 0)
            return;
        var caseWidth = Math.Max(4, results.Max(r => r.Case.Length));
        AnsiConsole.WriteLine();
        AnsiConsole.MarkupLine(Markup.Escape($"{"case".PadRight(caseWidth)} {"1/32x    1x    32x",-BarWidth}   ratio  ┃ = goal (parity unless stated)"));
        foreach (var r in results)
        {
            var color = MeetsGoal(r) ? "green" : "red";
            var goal = r.Goal is { } g ? $"goal {(r.HigherIsBetter ? "≥" : "≤")}{g.ToString("0.##", CultureInfo.InvariantCulture)}x" : "";
            AnsiConsole.MarkupLine($"{Markup.Escape(r.Case.PadRight(caseWidth))} [{color}]{Markup.Escape(Bar(r.Ratio, r.Goal ?? 1, BarWidth))} " +
                $"{Markup.Escape(r.Ratio.ToString("0.00", CultureInfo.InvariantCulture) + "x"),7}[/] {Markup.Escape(goal),-10} {Markup.Escape(r.Metric)}");
        }
    }

    /// <summary>True if the ratio meets the case's goal (parity when none is stated).</summary>
    public static bool MeetsGoal(BenchResult r)
    {
        var goal = r.Goal ?? 1;
        return double.IsFinite(r.Ratio) && (r.HigherIsBetter ? r.Ratio >= goal : r.Ratio <= goal);
    }

    /// <summary>A bar of <paramref name="width"/> cells: from 1.0x (the middle) to the ratio, '┃' at the goal.</summary>
    public static string Bar(double ratio, double goal, int width)
    {
        int Cell(double v)
        {
            var x = double.IsFinite(v) && v > 0 ? Math.Log2(v) : -ScaleOctaves;
            var f = (Math.Clamp(x, -ScaleOctaves, ScaleOctaves) + ScaleOctaves) / (2 * ScaleOctaves);
            return Math.Min(width - 1, (int)Math.Round(f * (width - 1)));
        }
        var cells = Enumerable.Repeat('·', width).ToArray();
        int mid = Cell(1), at = Cell(ratio);
        for (var i = Math.Min(mid, at); i <= Math.Max(mid, at); i++)
            cells[i] = '█';
        cells[Cell(goal)] = '┃';
        return new StringBuilder().Append(cells).ToString();
    }

}
