// ServerStats - the counters behind .wcfs/stats (PROTOCOL.md §2) and pin round-trip figures.
using System.Globalization;
using System.Text;

namespace Wcfs.Actors.Server;

internal sealed class ServerStats
{
    private long _pins, _pinKills;
    private readonly object _lock = new();
    private readonly List<double> _roundTripsUs = [];

    public long Pins => Interlocked.Read(ref _pins);
    public long PinKills => Interlocked.Read(ref _pinKills);

    public void PinSent() => Interlocked.Increment(ref _pins);
    public void PinKilled() => Interlocked.Increment(ref _pinKills);

    /// <summary>Server-side pin round trip: pin queued → ack processed.</summary>
    public void RecordPinRoundTrip(TimeSpan t)
    {
        lock (_lock)
        {
            if (_roundTripsUs.Count < 1_000_000)
                _roundTripsUs.Add(t.TotalMicroseconds);
        }
    }

    /// <summary>(count, p50 µs, p99 µs) of the recorded pin round trips.</summary>
    public (int Count, double P50, double P99) RoundTrips()
    {
        double[] a;
        lock (_lock)
            a = [.. _roundTripsUs];
        if (a.Length == 0)
            return (0, 0, 0);
        Array.Sort(a);
        return (a.Length, a[(int)(a.Length * 0.50)], a[Math.Min(a.Length - 1, (int)(a.Length * 0.99))]);
    }

    /// <summary>The text of .wcfs/stats.</summary>
    public static string Format(int bigFiles, int revHeads, int links, int watches, int pinned, long pins, long kills, (int Count, double P50, double P99) rt)
    {
        var b = new StringBuilder();
        void Line(string name, object v) => b.Append(CultureInfo.InvariantCulture, $"{name}\t: {v}\n");
        Line("BigFile", bigFiles);
        Line("RevHead", revHeads);
        Line("WatchLink", links);
        Line("Watch", watches);
        Line("PinnedBlk", pinned);
        Line("pin", pins);
        Line("pinkill", kills);
        // Extra (not in wendelin's list): pin round trip as measured on the server, microseconds.
        Line("pinrtt.n", rt.Count);
        Line("pinrtt.p50us", rt.P50.ToString("0.0", CultureInfo.InvariantCulture));
        Line("pinrtt.p99us", rt.P99.ToString("0.0", CultureInfo.InvariantCulture));
        return b.ToString();
    }
}
