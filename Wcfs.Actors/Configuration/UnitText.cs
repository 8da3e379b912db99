// UnitText - the one parser of durations ("30s", "500ms", "1m") and sizes ("4MiB", "65536")
// used by HOCON settings and the CLI (API.md §4).
using System.Globalization;

namespace Wcfs.Actors.Configuration;

/// <summary>Durations as written in HOCON: a number and a unit (ns, us, ms, s, m, h, d); bare = ms.</summary>
public static class DurationText
{
    /// <summary>Parses e.g. "30s", "1.5s", "500ms", "1m".</summary>
    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = default;
        if (!NumberAndUnit.TrySplit(text, out var number, out var unit))
            return false;
        double scaleMs = unit switch
        {
            "" or "ms" or "millisecond" or "milliseconds" => 1,
            "ns" or "nanosecond" or "nanoseconds" => 1e-6,
            "us" or "microsecond" or "microseconds" => 1e-3,
            "s" or "second" or "seconds" => 1000,
            "m" or "minute" or "minutes" => 60_000,
            "h" or "hour" or "hours" => 3_600_000,
            "d" or "day" or "days" => 86_400_000,
            _ => double.NaN,
        };
        if (double.IsNaN(scaleMs))
            return false;
        value = TimeSpan.FromMilliseconds(number * scaleMs);
        return true;
    }

    /// <summary>Writes a duration the way the parser reads it (e.g. "30s", "1500ms").</summary>
    public static string Format(TimeSpan t) =>
        t.TotalMilliseconds % 1000 == 0 ? $"{(long)t.TotalSeconds}s" : $"{t.TotalMilliseconds.ToString(CultureInfo.InvariantCulture)}ms";
}

/// <summary>Sizes: bytes, or a number with a binary (KiB, MiB, GiB, TiB) or HOCON (K, M, G) unit.</summary>
public static class SizeText
{
    /// <summary>Parses e.g. "4MiB", "64MiB", "65536", "2M".</summary>
    public static bool TryParse(string? text, out long value)
    {
        value = 0;
        if (!NumberAndUnit.TrySplit(text, out var number, out var unit))
            return false;
        long scale = unit.ToLowerInvariant() switch
        {
            "" or "b" or "byte" or "bytes" => 1,
            "k" or "kib" or "ki" => 1L << 10,
            "m" or "mib" or "mi" => 1L << 20,
            "g" or "gib" or "gi" => 1L << 30,
            "t" or "tib" or "ti" => 1L << 40,
            _ => 0,
        };
        if (scale == 0 || number < 0)
            return false;
        var v = number * scale;
        if (v > long.MaxValue || v != Math.Floor(v))
            return false;
        value = (long)v;
        return true;
    }
}

internal static class NumberAndUnit
{
    public static bool TrySplit(string? text, out double number, out string unit)
    {
        number = 0;
        unit = "";
        var t = text?.Trim() ?? "";
        var i = 0;
        while (i < t.Length && (char.IsAsciiDigit(t[i]) || t[i] == '.'))
            i++;
        if (i == 0)
            return false;
        unit = t[i..].Trim();
        return double.TryParse(t.AsSpan(0, i), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out number);
    }
}
