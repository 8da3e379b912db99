// WcfsMetrics - the meter "Wcfs" (System.Diagnostics.Metrics) and every instrument of the runtime
// and of the server (issue 14). Read them with `dotnet-counters monitor --counters Wcfs -p PID`, a
// MeterListener, or OpenTelemetry (`.AddMeter("Wcfs")`; samples/HostedSample exports them).
//
// Instruments (name, kind, unit: what it counts; where it is fed):
//   client (every process that uses the runtime)
//     wcfs.client.pins              Counter    {pin}  pins this process's pinners acked      PinnerActor
//     wcfs.client.pin.naks          Counter    {pin}  pins answered nak                      PinnerActor
//     wcfs.client.pin.duration      Histogram  us     pin received → ack sent (native clock) PinnerActor
//     wcfs.virtmem.faults           ObsCounter {fault} faults served, tag access=read|write   native vm_fault_stats
//     wcfs.virtmem.dirty_pages      ObsGauge   {page} RAM pages in use (dirty; + loaded in classic mode)
//     wcfs.virtmem.ram.used         ObsGauge   By     memory the RAM memfds hold            native vm_ram_stats
//     wcfs.commit.duration          Histogram  ms     Connection.CommitAsync that wrote     Connection
//     wcfs.commit.bytes             Counter    By     block bytes written by commits        Connection
//     wcfs.commit.conflicts         Counter    {commit} commits refused with ConflictException
//   server (the `wcfs serve` process)
//     wcfs.server.pins              Counter    {pin}  pins sent                              ServerStats
//     wcfs.server.pin.round_trip    Histogram  us     pin sent → ack processed               ServerStats
//     wcfs.server.pin.kills         Counter    {process} clients killed for a missing ack    ServerStats
//     wcfs.server.reads             Counter    {read} data reads answered (head/ and @rev/)   ServerStats
//     wcfs.server.read.bytes        Counter    By     bytes answered                         ServerStats
//     wcfs.server.read.duration     Histogram  us     read request → reply (incl. pins)      ServerStats
//     wcfs.server.watch_links       ObsGauge   {link} open watch links                       ObserveServer
//
// Threading and fact 1 (ARCHITECTURE.md): nothing here is ever called from native code. Pin figures
// come from the managed PinnerActor's copies of pin events (after the ack was sent); fault counts
// and RAM use are native counters read on demand by the observable instruments' callbacks, which
// run on the listener's thread (two atomic loads / an fstat; never waits on the mmap actor).
// Recording on an instrument nobody listens to costs one branch.
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Diagnostics;

internal static class WcfsMetrics
{
    /// <summary>The meter's name: what <c>dotnet-counters --counters</c> and OpenTelemetry's AddMeter take.</summary>
    public const string MeterName = "Wcfs";

    public static readonly Meter Meter = new(MeterName, typeof(WcfsMetrics).Assembly.GetName().Version?.ToString());

    private static readonly object Lock = new();
    private static readonly List<VmRamHandle> Rams = [];
    private static readonly List<Func<int>> LinkSources = [];

    // ---- client ---------------------------------------------------------------------------------

    public static readonly Counter<long> ClientPins =
        Meter.CreateCounter<long>("wcfs.client.pins", "{pin}", "Pins this process's pinners acked");

    public static readonly Counter<long> ClientPinNaks =
        Meter.CreateCounter<long>("wcfs.client.pin.naks", "{pin}", "Pins this process's pinners answered nak");

    public static readonly Histogram<double> ClientPinDuration =
        Meter.CreateHistogram<double>("wcfs.client.pin.duration", "us", "Pin received to ack sent, in the native pinner");

    public static readonly Histogram<double> CommitDuration =
        Meter.CreateHistogram<double>("wcfs.commit.duration", "ms", "Connection commits that wrote something: writeout, storage commit, resync");

    public static readonly Counter<long> CommitBytes =
        Meter.CreateCounter<long>("wcfs.commit.bytes", "By", "Block bytes written by commits");

    public static readonly Counter<long> CommitConflicts =
        Meter.CreateCounter<long>("wcfs.commit.conflicts", "{commit}", "Commits refused with ConflictException");

    // ---- server ---------------------------------------------------------------------------------

    public static readonly Counter<long> ServerPins =
        Meter.CreateCounter<long>("wcfs.server.pins", "{pin}", "Pins the server sent");

    public static readonly Histogram<double> ServerPinRoundTrip =
        Meter.CreateHistogram<double>("wcfs.server.pin.round_trip", "us", "Pin sent to ack processed, on the server");

    public static readonly Counter<long> ServerPinKills =
        Meter.CreateCounter<long>("wcfs.server.pin.kills", "{process}", "Clients the server killed (no ack, nak, bad reply)");

    public static readonly Counter<long> ServerReads =
        Meter.CreateCounter<long>("wcfs.server.reads", "{read}", "Data reads answered (head/ and @rev/ files)");

    public static readonly Counter<long> ServerReadBytes =
        Meter.CreateCounter<long>("wcfs.server.read.bytes", "By", "Bytes answered by data reads");

    public static readonly Histogram<double> ServerReadDuration =
        Meter.CreateHistogram<double>("wcfs.server.read.duration", "us", "Data read request to reply, including the pins it waited for");

    static WcfsMetrics()
    {
        Meter.CreateObservableCounter("wcfs.virtmem.faults", ObserveFaults, "{fault}",
            "Page faults served by the virtmem fault handler (access=write: a page became dirty; access=read: classic-mode load)");
        Meter.CreateObservableGauge("wcfs.virtmem.dirty_pages", () => SumRams(r => r.UsedPages), "{page}",
            "RAM pages in use: dirty pages (and loaded pages of classic-mode files)");
        Meter.CreateObservableGauge("wcfs.virtmem.ram.used", () => SumRams(r => r.AllocatedBytes), "By",
            "Memory the virtmem RAM holds");
        Meter.CreateObservableGauge("wcfs.server.watch_links", ObserveLinks, "{link}", "Open watch links of the server");
    }

    /// <summary>Makes the RAM's use visible to the gauges until the returned object is disposed.</summary>
    public static IDisposable ObserveRam(VmRamHandle ram)
    {
        lock (Lock)
            Rams.Add(ram);
        return new Registration(() => { lock (Lock) Rams.Remove(ram); });
    }

    /// <summary>Makes a server's open-link count visible until the returned object is disposed.</summary>
    public static IDisposable ObserveServer(Func<int> openLinks)
    {
        lock (Lock)
            LinkSources.Add(openLinks);
        return new Registration(() => { lock (Lock) LinkSources.Remove(openLinks); });
    }

    /// <summary>Microseconds since a <see cref="Stopwatch.GetTimestamp"/>.</summary>
    public static double MicrosecondsSince(long timestamp) => Stopwatch.GetElapsedTime(timestamp).TotalMicroseconds;

    private static IEnumerable<Measurement<long>> ObserveFaults()
    {
        if (VirtmemNative.FaultStats(out var read, out var write) != 0)
            return [];
        return
        [
            new Measurement<long>((long)read, new KeyValuePair<string, object?>("access", "read")),
            new Measurement<long>((long)write, new KeyValuePair<string, object?>("access", "write")),
        ];
    }

    /// <summary>The sum over the process's RAMs; no measurement at all in a process without one (a server).</summary>
    private static IEnumerable<Measurement<long>> SumRams(Func<(long UsedPages, long AllocatedBytes), long> pick)
    {
        VmRamHandle[] rams;
        lock (Lock)
            rams = [.. Rams];
        if (rams.Length == 0)
            return [];
        long sum = 0;
        foreach (var r in rams)
        {
            var added = false;
            try
            {
                r.DangerousAddRef(ref added); // a RAM disposed meanwhile is skipped, never read freed
                sum += pick(r.Stats());
            }
            catch (Exception e) when (e is ObjectDisposedException or VirtmemException)
            {
                // disposed between the copy and the read, or fstat failed: not counted this time
            }
            finally
            {
                if (added)
                    r.DangerousRelease();
            }
        }
        return [new Measurement<long>(sum)];
    }

    /// <summary>Open links of the servers in this process; no measurement in a process without one (a client).</summary>
    private static IEnumerable<Measurement<int>> ObserveLinks()
    {
        Func<int>[] sources;
        lock (Lock)
            sources = [.. LinkSources];
        return sources.Length == 0 ? [] : [new Measurement<int>(sources.Sum(s => s()))];
    }

    private sealed class Registration(Action remove) : IDisposable
    {
        private Action? _remove = remove;

        public void Dispose() => Interlocked.Exchange(ref _remove, null)?.Invoke();
    }
}
