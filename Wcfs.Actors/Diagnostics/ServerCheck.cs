// ServerCheck - the checks of one WCFS server seen from outside (its mountpoint): mount, server
// process, .wcfs/stats answering, and the figures of that stats file. `wcfs status` prints them
// (one line each: ok, or the problem and what to do); the runtime's health check (WcfsHealth.cs)
// runs the same RunAsync for "server reachable" and adds its own conns' lines. One line is one
// HealthStatus, and WcfsHealth.StatusOf is the one rule from lines to a status (both use it).
// URLs in the lines are redacted (a health check's description may be served over HTTP).
//
// A hung server blocks whoever reads its files: the stats file is read on a pool thread and
// waited for at most the given timeout; at most one such read per mountpoint is in flight at a
// time (a later check during a hang reports the hang at once instead of stacking blocked threads).
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Diagnostics;

/// <summary>One line of a check: its name, its status, and what was found (or the problem and what to do).</summary>
internal sealed record ServerCheckLine(string Name, HealthStatus Status, string Detail)
{
    /// <summary>True for a healthy line.</summary>
    public bool Ok => Status == HealthStatus.Healthy;

    /// <summary>"ok", "warn" or "fail".</summary>
    public string Word => Status switch { HealthStatus.Healthy => "ok", HealthStatus.Degraded => "warn", _ => "fail" };

    /// <summary>A healthy line.</summary>
    public static ServerCheckLine Pass(string name, string detail) => new(name, HealthStatus.Healthy, detail);

    /// <summary>A degraded line: works, but not as it should (the detail says why and until when).</summary>
    public static ServerCheckLine Warn(string name, string detail) => new(name, HealthStatus.Degraded, detail);

    /// <summary>An unhealthy line: the problem and what to do.</summary>
    public static ServerCheckLine Fail(string name, string detail) => new(name, HealthStatus.Unhealthy, detail);
}

/// <summary>The figures of one read of a server's <c>.wcfs/stats</c> (PROTOCOL.md §2; ServerStats).</summary>
internal sealed record ServerStatsSample(IReadOnlyDictionary<string, string> Values, DateTime TakenUtc)
{
    /// <summary>An integer value, or 0 when the server does not report it.</summary>
    public long Long(string name) =>
        Values.TryGetValue(name, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>A decimal value, or 0 when the server does not report it.</summary>
    public double Double(string name) =>
        Values.TryGetValue(name, out var v) && double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>A text value, or null.</summary>
    public string? Text(string name) => Values.TryGetValue(name, out var v) ? v : null;

    /// <summary>Parses the text of <c>.wcfs/stats</c> ("name\t: value" lines).</summary>
    public static ServerStatsSample Parse(string text, DateTime takenUtc)
    {
        var d = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            var i = line.IndexOf(':', StringComparison.Ordinal);
            if (i > 0)
                d[line[..i].Trim()] = line[(i + 1)..].Trim();
        }
        return new ServerStatsSample(d, takenUtc);
    }
}

/// <summary>Checks a WCFS server through its mountpoint (mount, process, stats).</summary>
internal static class ServerCheck
{
    private static readonly ConcurrentDictionary<string, Task<string>> StatsReads = new(StringComparer.Ordinal);

    /// <summary>Reads <c>.wcfs/stats</c> of the server at <paramref name="mountpoint"/>, waiting at most
    /// <paramref name="timeout"/>.</summary>
    /// <exception cref="TimeoutException">The server did not answer in time (hung).</exception>
    /// <exception cref="IOException">No server answers there (not mounted, or the server is gone).</exception>
    public static async Task<ServerStatsSample> ReadStatsAsync(string mountpoint, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var path = Path.Combine(mountpoint, ".wcfs", "stats");
        var read = StatsReads.GetOrAdd(path, p => Task.Run(() => File.ReadAllText(p), CancellationToken.None));
        try
        {
            var text = await read.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
            return ServerStatsSample.Parse(text, DateTime.UtcNow);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException(e.Message, e);
        }
        finally
        {
            if (read.IsCompleted)
                StatsReads.TryRemove(new KeyValuePair<string, Task<string>>(path, read));
        }
    }

    /// <summary>
    /// The checks of the server at <paramref name="mountpoint"/> serving <paramref name="url"/>, in
    /// order: mount, server process, stats, then (if stats answered) head, links, pins and reads.
    /// Never throws for a server problem: a failed check is a line with Ok false that says what to do.
    /// </summary>
    public static async Task<IReadOnlyList<ServerCheckLine>> RunAsync(string url, string mountpoint, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        url = UrlRedaction.Redact(url);
        var lines = new List<ServerCheckLine>();
        var mounted = MountPoint.IsMounted(mountpoint);
        lines.Add(mounted
            ? ServerCheckLine.Pass("mount", mountpoint)
            : ServerCheckLine.Fail("mount", $"{mountpoint} is not mounted: start the server with `wcfs serve {url}` (or open a Database with autostart on)"));
        var pid = MountPoint.ServerPid(mountpoint);
        var alive = pid is { } p && Directory.Exists($"/proc/{p}");
        lines.Add(alive
            ? ServerCheckLine.Pass("server", $"pid {pid}")
            : pid is null
                ? ServerCheckLine.Fail("server", $"no server process (no pid file {MountPoint.PidPath(mountpoint)})" +
                    (mounted ? $": a stale mount; `wcfs stop {url}` cleans it up" : ""))
                : ServerCheckLine.Fail("server", $"server process {pid} is gone" + (mounted
                    ? $": a stale mount; `wcfs serve {url}` starts a new server (clients waiting for re-attach take it), `wcfs stop {url}` only cleans up"
                    : "")));
        if (!mounted)
        {
            lines.Add(ServerCheckLine.Fail("stats", ".wcfs/stats not read: nothing is mounted"));
            return lines;
        }
        ServerStatsSample s;
        var started = Stopwatch.GetTimestamp();
        try
        {
            s = await ReadStatsAsync(mountpoint, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            lines.Add(ServerCheckLine.Fail("stats", $".wcfs/stats does not answer within {timeout.TotalSeconds:0.#}s: the server hangs; `wcfs stop {url}` kills it"));
            return lines;
        }
        catch (IOException e)
        {
            lines.Add(ServerCheckLine.Fail("stats", $".wcfs/stats cannot be read ({e.Message}): the server is gone; `wcfs stop {url}` cleans up"));
            return lines;
        }
        var ms = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        lines.Add(ServerCheckLine.Pass("stats", $".wcfs/stats answers ({ms.ToString("0.0", CultureInfo.InvariantCulture)} ms)"));
        lines.AddRange(Figures(s));
        return lines;
    }

    /// <summary>The figure lines of a stats sample (all ok: they describe, they do not judge, except kills).</summary>
    public static IEnumerable<ServerCheckLine> Figures(ServerStatsSample s)
    {
        var up = TimeSpan.FromSeconds(s.Double("uptime.s"));
        yield return ServerCheckLine.Pass("head", $"@{s.Text("headat") ?? "?"}, {s.Long("BigFile")} files, {s.Long("RevHead")} @rev dirs, up {Duration(up)}");
        yield return ServerCheckLine.Pass("links", $"{s.Long("WatchLink")} watch links, {s.Long("Watch")} watches, {s.Long("PinnedBlk")} pinned blocks");
        var kills = s.Long("pinkill");
        var rtt = s.Long("pinrtt.n") > 0
            ? $", round trip p50 {s.Double("pinrtt.p50us").ToString("0.0", CultureInfo.InvariantCulture)} µs p99 {s.Double("pinrtt.p99us").ToString("0.0", CultureInfo.InvariantCulture)} µs"
            : "";
        yield return kills == 0
            ? ServerCheckLine.Pass("pins", $"{s.Long("pin")} sent, no client killed{rtt}")
            : ServerCheckLine.Pass("pins", $"{s.Long("pin")} sent{rtt}; {kills} clients killed for not acking a pin: see the server log (wcfs serve's log file) for which");
        yield return ServerCheckLine.Pass("reads", $"{s.Long("read")} reads, {Bytes(s.Long("readbytes"))}");
    }

    /// <summary>A duration as "3d4h", "2h5m", "4m10s", "12s".</summary>
    public static string Duration(TimeSpan t) =>
        t.TotalDays >= 1 ? $"{(int)t.TotalDays}d{t.Hours}h"
        : t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes}m"
        : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds}s"
        : $"{(int)t.TotalSeconds}s";

    /// <summary>Bytes with a binary unit ("1.5 GiB").</summary>
    public static string Bytes(long n)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = n;
        var u = 0;
        while (v >= 1024 && u < units.Length - 1)
        {
            v /= 1024;
            u++;
        }
        return u == 0 ? $"{n} B" : $"{v.ToString("0.0", CultureInfo.InvariantCulture)} {units[u]}";
    }
}
