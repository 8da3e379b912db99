namespace Wcfs.Actors.Tests.Support;

/// <summary>Every wait in tests is bounded; WCFS_TEST_TIMEOUT_FACTOR scales all bounds for slow CI.</summary>
public static class TestTimeouts
{
    /// <summary>The scale factor (default 1).</summary>
    public static double Factor { get; } =
        double.TryParse(Environment.GetEnvironmentVariable("WCFS_TEST_TIMEOUT_FACTOR"), System.Globalization.CultureInfo.InvariantCulture, out var f) && f > 0 ? f : 1;

    /// <summary><paramref name="t"/> scaled by <see cref="Factor"/>.</summary>
    public static TimeSpan Scale(TimeSpan t) => t * Factor;

    /// <summary>The default bound for one child process or event.</summary>
    public static TimeSpan Default => Scale(TimeSpan.FromSeconds(30));
}
