// ServerStats - the counters behind .wcfs/stats (PROTOCOL.md §2) and pin round-trip figures; every
// count is also fed to the meter "Wcfs" (Diagnostics/WcfsMetrics.cs) at the same point.
//
// .wcfs/stats lines ("name\t: value"): wendelin's list first (BigFile, RevHead, WatchLink, Watch,
// PinnedBlk, pin, pinkill), then ours, read by `wcfs stats` / `wcfs status` (StatsText.Parse):
//   WatchSetupWaiting              watch setups waiting for a future head/at
//   EIO                            1 = head/ fails with EIO (HeadActor.cs)
//   pinrtt.n / .p50us / .p99us     server pin round trips since start (µs)
//   pinrtt.recent.p50us / .p99us   the same over the last RecentRoundTrips round trips
//   read / readbytes               data reads answered (head/ and @rev/) and their bytes
//   headat                         head/at (16 hex digits)
//   uptime.s                       seconds since the server started
// Counters only grow: a reader computes rates from two samples.
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Wcfs.Actors.Diagnostics;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Server;

internal sealed class ServerStats
{
    /// <summary>How many of the latest round trips pinrtt.recent.* covers.</summary>
    public const int RecentRoundTrips = 1024;

    private long _pins, _pinKills, _reads, _readBytes, _links, _setupsWaiting;
    private readonly object _lock = new();
    private readonly List<double> _roundTripsUs = [];
    private readonly long _started = Stopwatch.GetTimestamp();

    public long Pins => Interlocked.Read(ref _pins);
    public long PinKills => Interlocked.Read(ref _pinKills);
    public long Reads => Interlocked.Read(ref _reads);
    public long ReadBytes => Interlocked.Read(ref _readBytes);

    /// <summary>Watch links open and not closed.</summary>
    public long Links => Interlocked.Read(ref _links);
    /// <summary>Watch setups waiting for a future head/at.</summary>
    public long WatchSetupsWaiting => Interlocked.Read(ref _setupsWaiting);

    public void LinkOpened() => Interlocked.Increment(ref _links);
    public void LinkClosed() => Interlocked.Decrement(ref _links);
    public void SetWatchSetupsWaiting(int n) => Interlocked.Exchange(ref _setupsWaiting, n);

    public void PinSent()
    {
        Interlocked.Increment(ref _pins);
        WcfsMetrics.ServerPins.Add(1);
    }

    public void PinKilled()
    {
        Interlocked.Increment(ref _pinKills);
        WcfsMetrics.ServerPinKills.Add(1);
    }

    /// <summary>A data read answered with <paramref name="bytes"/> bytes; <paramref name="startTimestamp"/>
    /// is the <see cref="Stopwatch.GetTimestamp"/> when the request arrived.</summary>
    public void ReadAnswered(int bytes, long startTimestamp)
    {
        Interlocked.Increment(ref _reads);
        Interlocked.Add(ref _readBytes, bytes);
        WcfsMetrics.ServerReads.Add(1);
        WcfsMetrics.ServerReadBytes.Add(bytes);
        WcfsMetrics.ServerReadDuration.Record(WcfsMetrics.MicrosecondsSince(startTimestamp));
    }

    /// <summary>Server-side pin round trip: pin queued → ack processed.</summary>
    public void RecordPinRoundTrip(TimeSpan t)
    {
        WcfsMetrics.ServerPinRoundTrip.Record(t.TotalMicroseconds);
        lock (_lock)
        {
            if (_roundTripsUs.Count < 1_000_000)
                _roundTripsUs.Add(t.TotalMicroseconds);
        }
    }

    /// <summary>(count, p50 µs, p99 µs) of the recorded pin round trips.</summary>
    public (int Count, double P50, double P99) RoundTrips() => RoundTrips(int.MaxValue);

    /// <summary>(count, p50 µs, p99 µs) of the last <paramref name="last"/> recorded pin round trips.</summary>
    public (int Count, double P50, double P99) RoundTrips(int last)
    {
        double[] a;
        lock (_lock)
        {
            var n = Math.Min(last, _roundTripsUs.Count);
            a = [.. _roundTripsUs.GetRange(_roundTripsUs.Count - n, n)];
        }
        if (a.Length == 0)
            return (0, 0, 0);
        Array.Sort(a);
        return (a.Length, a[(int)(a.Length * 0.50)], a[Math.Min(a.Length - 1, (int)(a.Length * 0.99))]);
    }

    /// <summary>Seconds since this server started.</summary>
    public double UptimeSeconds => Stopwatch.GetElapsedTime(_started).TotalSeconds;

    /// <summary>The gauges of one .wcfs/stats snapshot that the file system knows (not counters).</summary>
    public readonly record struct Gauges(int BigFiles, int RevHeads, int Watches, int Pinned, Tid HeadAt, bool Eio);

    /// <summary>The text of .wcfs/stats.</summary>
    public string Format(Gauges g)
    {
        var b = new StringBuilder();
        void Line(string name, object v) => b.Append(CultureInfo.InvariantCulture, $"{name}\t: {v}\n");
        static string Us(double v) => v.ToString("0.0", CultureInfo.InvariantCulture);
        Line("BigFile", g.BigFiles);
        Line("RevHead", g.RevHeads);
        Line("WatchLink", Links);
        Line("Watch", g.Watches);
        Line("PinnedBlk", g.Pinned);
        Line("pin", Pins);
        Line("pinkill", PinKills);
        // Extra (not in wendelin's list): watch setups waiting for a future head/at, EIO mode (1 =
        // head/ fails with EIO, see HeadActor.cs), pin round trip as measured on the server (µs).
        Line("WatchSetupWaiting", WatchSetupsWaiting);
        Line("EIO", g.Eio ? 1 : 0);
        var rt = RoundTrips();
        Line("pinrtt.n", rt.Count);
        Line("pinrtt.p50us", Us(rt.P50));
        Line("pinrtt.p99us", Us(rt.P99));
        var recent = RoundTrips(RecentRoundTrips);
        Line("pinrtt.recent.p50us", Us(recent.P50));
        Line("pinrtt.recent.p99us", Us(recent.P99));
        Line("read", Reads);
        Line("readbytes", ReadBytes);
        Line("headat", g.HeadAt);
        Line("uptime.s", UptimeSeconds.ToString("0.0", CultureInfo.InvariantCulture));
        return b.ToString();
    }
}
