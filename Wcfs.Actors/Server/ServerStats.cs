// ServerStats - the counters behind .wcfs/stats (PROTOCOL.md §2) and pin round-trip figures.
using System.Globalization;
using System.Text;

namespace Wcfs.Actors.Server;

internal sealed class ServerStats
{
    private long _pins, _pinKills, _links, _setupsWaiting;
    private readonly object _lock = new();
    private readonly List<double> _roundTripsUs = [];

    public long Pins => Interlocked.Read(ref _pins);
    public long PinKills => Interlocked.Read(ref _pinKills);

    /// <summary>Watch links open and not closed.</summary>
    public long Links => Interlocked.Read(ref _links);
    /// <summary>Watch setups waiting for a future head/at.</summary>
    public long WatchSetupsWaiting => Interlocked.Read(ref _setupsWaiting);

    public void LinkOpened() => Interlocked.Increment(ref _links);
    public void LinkClosed() => Interlocked.Decrement(ref _links);
    public void SetWatchSetupsWaiting(int n) => Interlocked.Exchange(ref _setupsWaiting, n);
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
    public static string Format(int bigFiles, int revHeads, int watches, int pinned, ServerStats s, bool eio)
    {
        var b = new StringBuilder();
        void Line(string name, object v) => b.Append(CultureInfo.InvariantCulture, $"{name}\t: {v}\n");
        var rt = s.RoundTrips();
        Line("BigFile", bigFiles);
        Line("RevHead", revHeads);
        Line("WatchLink", s.Links);
        Line("Watch", watches);
        Line("PinnedBlk", pinned);
        Line("pin", s.Pins);
        Line("pinkill", s.PinKills);
        // Extra (not in wendelin's list): watch setups waiting for a future head/at, EIO mode (1 =
        // head/ fails with EIO, see HeadActor.cs), pin round trip as measured on the server (µs).
        Line("WatchSetupWaiting", s.WatchSetupsWaiting);
        Line("EIO", eio ? 1 : 0);
        Line("pinrtt.n", rt.Count);
        Line("pinrtt.p50us", rt.P50.ToString("0.0", CultureInfo.InvariantCulture));
        Line("pinrtt.p99us", rt.P99.ToString("0.0", CultureInfo.InvariantCulture));
        return b.ToString();
    }
}
