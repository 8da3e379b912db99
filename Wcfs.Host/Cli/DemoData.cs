// DemoData - the demo's deterministic array contents and the expected sums per revision, and
// the figures it reads from the machine (PSS from /proc, the server's .wcfs/stats).
//
// Element g of the array in generation k (k = 0 for the fill, k = the change number after it) is
// the integer (g·31 + k·7) mod 1000 stored as a double. Every value is an integer < 1000, so any
// sum of up to 2^43 of them is exact in double arithmetic, whatever the order of additions: a
// worker's sum is compared with the expected sum exactly.
using System.Globalization;
using System.Runtime.InteropServices;

namespace Wcfs.Host.Cli;

internal static class DemoData
{
    /// <summary>The value of element <paramref name="g"/> in generation <paramref name="gen"/>.</summary>
    public static long Value(long g, int gen) => (g * 31 + gen * 7L) % 1000;

    /// <summary>Fills <paramref name="block"/> (elements of block <paramref name="blk"/>) with generation <paramref name="gen"/>; returns their sum.</summary>
    public static long FillBlock(Span<byte> block, long blk, int gen)
    {
        var d = MemoryMarshal.Cast<byte, double>(block);
        var first = blk * d.Length;
        long sum = 0;
        for (var j = 0; j < d.Length; j++)
        {
            var v = Value(first + j, gen);
            d[j] = v;
            sum += v;
        }
        return sum;
    }

    /// <summary>The sum of a span of doubles (a worker's statistic).</summary>
    public static double Sum(ReadOnlySpan<byte> bytes)
    {
        var d = MemoryMarshal.Cast<byte, double>(bytes);
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        var j = 0;
        for (; j + 4 <= d.Length; j += 4)
        {
            s0 += d[j];
            s1 += d[j + 1];
            s2 += d[j + 2];
            s3 += d[j + 3];
        }
        for (; j < d.Length; j++)
            s0 += d[j];
        return s0 + s1 + s2 + s3;
    }

    /// <summary>
    /// PSS of process <paramref name="pid"/> in KiB: the whole process (smaps_rollup) and the part in
    /// mappings of files under <paramref name="mountpoint"/> (smaps), or null if the process is gone.
    /// </summary>
    public static (long TotalKiB, long WcfsKiB)? Pss(int pid, string mountpoint)
    {
        try
        {
            long total = 0;
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps_rollup"))
                if (line.StartsWith("Pss:", StringComparison.Ordinal))
                    total = KiB(line);
            long wcfs = 0;
            var inWcfs = false;
            var prefix = mountpoint.TrimEnd('/') + "/";
            foreach (var line in File.ReadLines($"/proc/{pid}/smaps"))
            {
                if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.Contains('-', StringComparison.Ordinal))
                {
                    // a mapping header: "start-end perms offset dev inode path"
                    var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
                    inWcfs = parts.Length == 6 && parts[5].Trim().StartsWith(prefix, StringComparison.Ordinal);
                }
                else if (inWcfs && line.StartsWith("Pss:", StringComparison.Ordinal))
                    wcfs += KiB(line);
            }
            return (total, wcfs);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static long KiB(string line) =>
        long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    /// <summary>The value of <paramref name="key"/> in <c>&lt;mnt&gt;/.wcfs/stats</c> ("key\t: value" lines), or null.</summary>
    public static string? Stat(string mountpoint, string key)
    {
        try
        {
            foreach (var line in File.ReadLines(Path.Combine(mountpoint, ".wcfs", "stats")))
            {
                var i = line.IndexOf(':', StringComparison.Ordinal);
                if (i > 0 && line[..i].Trim() == key)
                    return line[(i + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        return null;
    }

    /// <summary>Bytes in MiB at any size (PSS figures: 0.01 GiB was too coarse to compare runs).</summary>
    public static string MiB(double n) => string.Create(CultureInfo.InvariantCulture, $"{n / (1L << 20):0.0} MiB");

    /// <summary>Bytes as "1.0 GiB" / "64.0 MiB".</summary>
    public static string Bytes(double n) =>
        n >= 1L << 30 ? string.Create(CultureInfo.InvariantCulture, $"{n / (1L << 30):0.00} GiB")
        : string.Create(CultureInfo.InvariantCulture, $"{n / (1L << 20):0.0} MiB");
}
