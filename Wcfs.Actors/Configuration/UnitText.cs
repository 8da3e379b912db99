// UnitText - durations ("30s", "500ms", "1m") and sizes ("4MiB", "65536") as the CLI takes them
// (API.md §4). There is one grammar: HOCON's. A CLI value is parsed by HOCON's own getters
// (Config.GetTimeSpan, Config.GetByteSize), exactly as the same value in a .conf file would be.
using System.Globalization;
using Akka.Configuration;

namespace Wcfs.Actors.Configuration;

/// <summary>Durations as written in HOCON: a number and a unit (ns, us, ms, s, m, h, d); bare = ms.</summary>
public static class DurationText
{
    /// <summary>Parses e.g. "30s", "1.5s", "500ms", "1m" with HOCON's duration getter.</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (!HoconScalar.TryConfig(text, out var c))
            return false;
        try
        {
            value = c.GetTimeSpan(HoconScalar.Key, null, allowInfinite: false);
            return true;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Writes a duration the way HOCON reads it (e.g. "30s", "1500ms").</summary>
    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds % 1000 == 0
            ? ((long)t.TotalSeconds).ToString(CultureInfo.InvariantCulture) + "s"
            : t.TotalMilliseconds.ToString(CultureInfo.InvariantCulture) + "ms";
}

/// <summary>Sizes as written in HOCON: bytes, or a number with a unit (KiB, MiB, GiB, K, M, G, kB, MB ...).</summary>
public static class SizeText
{
    /// <summary>Parses e.g. "4MiB", "64MiB", "65536", "2M" with HOCON's size getter.</summary>
    public static bool TryParse(string? text, out long value)
    {
        value = 0;
        if (!HoconScalar.TryConfig(text, out var c))
            return false;
        try
        {
            var v = c.GetByteSize(HoconScalar.Key);
            if (v is not { } n || n < 0)
                return false;
            value = n;
            return true;
        }
        catch (Exception e) when (e is FormatException or OverflowException or ConfigurationException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Writes a size the way HOCON reads it (bytes).</summary>
    public static string Format(long bytes) => bytes.ToString(CultureInfo.InvariantCulture);
}

/// <summary>One CLI value as a one-key HOCON document (only number-and-unit text is let through).</summary>
internal static class HoconScalar
{
    public const string Key = "v";

    public static bool TryConfig(string? text, out Config config)
    {
        config = Config.Empty;
        var t = text?.Trim() ?? "";
        if (t.Length == 0 || !char.IsAsciiDigit(t[0]) || !t.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '.' or ' '))
            return false;
        try
        {
            config = ConfigurationFactory.ParseString(Key + " = \"" + t + "\"");
            return true;
        }
        catch (Exception e) when (e is FormatException or ConfigurationException)
        {
            return false;
        }
    }
}
