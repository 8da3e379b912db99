// LinkPins - the pins in flight of one watch link, shared by its actor (WatchLinkActor) and the FUSE
// threads that receive the client's writes, so that an ack completes its pin on the thread that
// received it.
//
// Why: the ack is the latency-critical half of a pin (a reader of head/ waits for it). Handed to the
// link actor, it waited for a link-dispatcher thread to be scheduled: under 4 streaming readers on 2
// cores that hop alone took 2.9 ms at p50 (measured: FUSE write callback → actor, while the client's
// write and the frame's way to the client took 80 µs and 31 µs; docs/NOTES.md "Pins under load, the
// ack hop"). The FUSE thread that received the write is running already.
//
// The fast path takes a write only when it is unambiguous: every line of it is a complete frame
// "<even stream> ack" (parsed by the one grammar, WatchFrame and WatchLinkGrammar) for a pin in
// flight, no earlier write of the link is still queued for the actor, the actor's frame splitter
// holds no partial line, and the link is open. Anything else (a nak, an unknown stream, a watch
// request, a partial frame, a closed link) goes to the actor as before, which keeps every check and
// every kill of the slow path.
//
// Invariants:
//   (1) A pin is completed by whoever removes it from the table: the fast path (ack), the actor
//       (ack, close, kill). Removal is atomic, so each pin's round trip is recorded at most once;
//       TaskCompletionSource.TrySetResult makes a second completion harmless anyway.
//   (2) Writes go to the fast path or to the actor, never both; a write the fast path declines
//       has taken nothing.
//   (3) The fast path answers the write before completing the pins: the pins' continuations run
//       synchronously on this thread (they only queue the waiting reads: ReadAnswerers.cs), the
//       client waits for nothing.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Protocol;

namespace Wcfs.Actors.Server;

/// <summary>The pins in flight of one link (see the file comment).</summary>
internal sealed class LinkPins
{
    /// <summary>A pin sent to the client and not yet acknowledged.</summary>
    internal sealed record Pending(PinRequest Pin, TaskCompletionSource Done, long SentTimestamp);

    /// <summary>Writes longer than this always go to the actor (acks are a few bytes each).</summary>
    public const int MaxFastBytes = 4096;

    private readonly ConcurrentDictionary<ulong, Pending> _pins = new();
    private int _queued;
    private volatile bool _splitterHolds;
    private volatile bool _closed;

    /// <summary>Pins in flight.</summary>
    public int Count => _pins.Count;

    public void Add(ulong stream, Pending p) => _pins[stream] = p;

    public bool TryGet(ulong stream, out Pending p) => _pins.TryGetValue(stream, out p!);

    /// <summary>Removes the pin of <paramref name="stream"/>; the caller completes it (invariant (1)).</summary>
    public bool TryTake(ulong stream, out Pending p) => _pins.TryRemove(stream, out p!);

    /// <summary>Closes the table to the fast path and removes every pin; the caller completes them.</summary>
    public List<(ulong Stream, Pending Pin)> Close()
    {
        _closed = true;
        var taken = new List<(ulong, Pending)>();
        foreach (var stream in _pins.Keys)
            if (_pins.TryRemove(stream, out var p))
                taken.Add((stream, p));
        return taken;
    }

    /// <summary>A write is being handed to the actor (called before the Tell).</summary>
    public void WriteQueued() => Interlocked.Increment(ref _queued);

    /// <summary>The actor handled a queued write; <paramref name="splitterHolds"/>: its splitter keeps part of a line.</summary>
    public void WriteHandled(bool splitterHolds)
    {
        _splitterHolds = splitterHolds; // before the decrement: a fast path that sees 0 sees this
        Interlocked.Decrement(ref _queued);
    }

    /// <summary>
    /// The fast path: if every line of <paramref name="data"/> acknowledges a pin in flight (see the
    /// file comment), removes those pins and returns them with their streams; else null, nothing taken.
    /// </summary>
    public List<(ulong Stream, Pending Pin)>? TryTakeAcks(ReadOnlySpan<byte> data)
    {
        if (_closed || Volatile.Read(ref _queued) != 0 || _splitterHolds || data.IsEmpty || data.Length > MaxFastBytes || data[^1] != (byte)'\n')
            return null;
        Span<ulong> streams = stackalloc ulong[data.Length / 6 + 1]; // "2 ack\n" is the shortest frame
        var count = 0;
        foreach (var range in data[..^1].Split((byte)'\n'))
        {
            var line = data[range];
            if (line.IsEmpty || line.Length >= WatchFrame.MaxBytes || !WatchFrame.TryParse(Encoding.UTF8.GetString(line), out var frame) ||
                WatchLinkGrammar.ParseClient(frame.Stream, frame.Text) is not PinReply { IsAck: true } ||
                !_pins.ContainsKey(frame.Stream) || streams[..count].Contains(frame.Stream))
                return null;
            streams[count++] = frame.Stream;
        }
        var taken = new List<(ulong, Pending)>(count);
        foreach (var stream in streams[..count])
            if (_pins.TryRemove(stream, out var p)) // lost only to a close or kill racing with us: it completes the pin
                taken.Add((stream, p));
        return taken;
    }

    /// <summary>Time since the pin was sent.</summary>
    public static TimeSpan RoundTrip(Pending p) => Stopwatch.GetElapsedTime(p.SentTimestamp);
}
