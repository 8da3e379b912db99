// The bench chart (BenchOutput): where the bar of a ratio ends and the goal mark sits, and which
// ratios meet their goal; pure functions, no bench run.
using Wcfs.Host.Cli;
using Xunit;

namespace Wcfs.Actors.Tests.Cli;

public sealed class BenchOutputTests
{
    [Fact]
    public void The_bar_runs_from_parity_in_the_middle_to_the_ratio_with_the_goal_marked()
    {
        Assert.Equal("·····┃█████", BenchOutput.Bar(32, 1, 11));      // 32x: the right end; goal = parity, the middle
        Assert.Equal("·███┃█·····", BenchOutput.Bar(1.0 / 16, 0.5, 11)); // 1/16x: four octaves left; goal 0.5x: one
        Assert.Equal('┃', BenchOutput.Bar(1, 0.5, 11)[4]);              // goal 0.5x: one octave left of the middle
        Assert.Equal('█', BenchOutput.Bar(1, 0.5, 11)[5]);              // ratio 1x: only the middle cell
        Assert.Equal(1, BenchOutput.Bar(1, 0.5, 11).Count(c => c == '█'));
        Assert.Equal("█████┃·····", BenchOutput.Bar(1e-9, 1, 11));       // below the scale: clamped to the left end
    }

    [Fact]
    public void A_ratio_meets_its_goal_in_the_direction_of_better()
    {
        static BenchResult R(double wcfs, bool higher, double? goal) => new("c", "m", "u", wcfs, 1, higher, goal);
        Assert.True(BenchOutput.MeetsGoal(R(0.9, true, 0.8)));
        Assert.False(BenchOutput.MeetsGoal(R(0.14, true, 0.8)));
        Assert.True(BenchOutput.MeetsGoal(R(0.9, false, null)));   // lower is better, no goal: parity
        Assert.False(BenchOutput.MeetsGoal(R(1.5, false, null)));
        Assert.False(BenchOutput.MeetsGoal(new BenchResult("c", "m", "u", 1, 0, true)));  // no baseline: NaN never meets
    }
}
