// The meter "Wcfs" read the way a user's tooling reads it (a MeterListener, as dotnet-counters and
// OpenTelemetry do) during a real commit and a real pin: real `wcfs serve` child process, real
// SQLite, real page faults. The meter is process-wide and other test classes run in parallel, so
// the assertions are "at least what this test did", never exact totals.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Wcfs.Actors.Db;
using Wcfs.Actors.Diagnostics;
using Wcfs.Actors.Server;
using Wcfs.Actors.Tests.Db;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Diagnostics;

public sealed class WcfsMetricsTests : WcfsDbTestBase
{
    /// <summary>Every measurement of the meter "Wcfs" since Start, by instrument name (and tag access).</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        public ConcurrentDictionary<string, ConcurrentQueue<double>> Seen { get; } = new();

        public Recorder()
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == WcfsMetrics.MeterName)
                    l.EnableMeasurementEvents(i);
            };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        private void Add(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var name = i.Name;
            foreach (var t in tags)
                if (t.Key == "access")
                    name += "{access=" + t.Value + "}";
            Seen.GetOrAdd(name, _ => new ConcurrentQueue<double>()).Enqueue(v);
        }

        /// <summary>Polls the observable instruments (gauges, native counters) now.</summary>
        public void Observe() => _listener.RecordObservableInstruments();

        public double Sum(string name) => Seen.TryGetValue(name, out var q) ? q.Sum() : 0;
        public int Count(string name) => Seen.TryGetValue(name, out var q) ? q.Count : 0;
        public double Last(string name) => Seen.TryGetValue(name, out var q) && !q.IsEmpty ? q.Last() : -1;

        public void Dispose() => _listener.Dispose();
    }

    private static async Task WaitForAsync(Func<bool> done, string what)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (!done())
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"waited {TestTimeouts.Default} for {what}");
            await Task.Delay(20); // why: the pin copy reaches the PinnerActor asynchronously; polled with a bound
        }
    }

    [Fact]
    public async Task A_commit_and_a_pin_show_in_the_meter_Wcfs_as_a_listener_reads_it()
    {
        using var m = new Recorder();
        var db = await OpenDatabaseAsync();
        var w = await db.OpenConnectionAsync();
        var file = ZBigFile.Create(w, Block);
        w.Root["f"] = file;
        await w.CommitAsync();

        // A reader at at1 maps block 0; the writer dirties block 0 and commits at2.
        var r = await db.OpenConnectionAsync();
        var rh = await r.Root.Get<ZBigFile>("f").OpenAsync();
        using var rv = await rh.MmapAsync(0, 1);
        var wh = await w.Root.Get<ZBigFile>("f").OpenAsync();
        using var wv = await wh.MmapAsync(0, 1);
        m.Observe();
        var writeFaultsBefore = m.Last("wcfs.virtmem.faults{access=write}");
        Encoding.UTF8.GetBytes("metrics").CopyTo(wv.Span);  // a write fault: one dirty page
        m.Observe();
        Assert.True(m.Last("wcfs.virtmem.faults{access=write}") >= writeFaultsBefore + 1, "write fault counted");
        Assert.True(m.Last("wcfs.virtmem.dirty_pages") >= 1, "dirty page visible");
        Assert.True(m.Last("wcfs.virtmem.ram.used") >= 1, "RAM in use visible");

        var commitsBefore = m.Count("wcfs.commit.duration");
        await w.CommitAsync();
        Assert.True(m.Count("wcfs.commit.duration") >= commitsBefore + 1, "commit latency recorded");
        Assert.True(m.Sum("wcfs.commit.bytes") >= Block, "committed block bytes counted");

        // Reading block 0 through head pins it in the reader's watch: this process's pinner acks.
        var oid = file.Oid;
        Assert.Equal("metrics", ServerProcess.ReadBlock(Server.HeadPath(oid), 0, Block));
        await WaitForAsync(() => m.Sum("wcfs.client.pins") >= 1 && m.Count("wcfs.client.pin.duration") >= 1, "the pin in wcfs.client.pins");
        Assert.Equal("", Encoding.UTF8.GetString(rv.Span[..7]).TrimEnd('\0')); // the reader still sees at1 (a hole)
        Assert.All(m.Seen["wcfs.client.pin.duration"], d => Assert.True(d > 0));
    }

    [Fact]
    public async Task A_commit_refused_with_a_conflict_counts_in_wcfs_commit_conflicts()
    {
        using var m = new Recorder();
        var db = await OpenDatabaseAsync();
        var a = await db.OpenConnectionAsync();
        a.Root["f"] = ZBigFile.Create(a, Block);
        await a.CommitAsync();
        var b = await db.OpenConnectionAsync();
        using var va = await (await a.Root.Get<ZBigFile>("f").OpenAsync()).MmapAsync(0, 1);
        using var vb = await (await b.Root.Get<ZBigFile>("f").OpenAsync()).MmapAsync(0, 1);
        va.Span[0] = 1;
        vb.Span[0] = 2;
        await a.CommitAsync();
        var before = m.Sum("wcfs.commit.conflicts");
        await Assert.ThrowsAsync<Wcfs.Actors.Storage.ConflictException>(() => b.CommitAsync());
        Assert.True(m.Sum("wcfs.commit.conflicts") >= before + 1);
    }

    [Fact]
    public void Server_stats_feed_the_server_instruments()
    {
        using var m = new Recorder();
        var s = new ServerStats();
        s.PinSent();
        s.RecordPinRoundTrip(TimeSpan.FromMicroseconds(42));
        s.ReadAnswered(4096, System.Diagnostics.Stopwatch.GetTimestamp());
        Assert.True(m.Sum("wcfs.server.pins") >= 1);
        Assert.Contains(42.0, m.Seen["wcfs.server.pin.round_trip"]);
        Assert.True(m.Sum("wcfs.server.read.bytes") >= 4096);
        Assert.True(m.Count("wcfs.server.read.duration") >= 1);
        Assert.Equal(1, s.Reads);
        Assert.Equal(4096, s.ReadBytes);
    }
}
