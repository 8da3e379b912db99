// WatchLinkActor - one open of head/watch: the server side of the isolation protocol (PROTOCOL.md §4).
// Messages: WatchLinkProtocol.cs. Functional core: WatchLinkBuffers.cs (frame splitter, out-queue).
//
//   C: 1 watch <oid> @<at>        S: 2 pin <oid> #<blk> @<rev>     C: 2 ack        S: 1 ok
//   C: 3 watch <oid> -            S: 3 ok
//   C: 5 bye                      (server closes: the client reads EOF)
//   S: 0 fatal: <why>             (then SIGBUS, SIGKILL after a grace period, link closed)
//   S: 0 error: <why>             (invalid frame, too many requests, reply queue full; link closed)
//
// The link owns its I/O state only (splitter, out-queue, pending reads, the queue of watch requests);
// its pins in flight are in LinkPins, shared with the FUSE threads: an ack-only write completes its
// pins on the thread that received it (LinkPins.cs), everything else comes here. What is watched and pinned lives in Head (guarded by Head.Lock, decided by readers
// and HeadActor), so nothing a link does holds a lock a reader or another link needs: a link is a
// mailbox, and a slow or hostile client slows only its own mailbox.
//
// Phases:
//   Open    --bye | invalid frame | too many requests | reply queue full | release w/o pins--> Closed
//   Open    --nak | bad reply | pin timeout | EOF with a pin out--> Closed (kill)
//   Closed  --Released and LinkDropped (and the kill done)--> stopped
// In Closed, reads get what is queued then EOF, writes are answered and dropped, SendPin completes
// at once (the client is gone or being killed), and pins in flight complete: at the close, or after
// the kill of the client.
//
// Invariants:
//   (1) Every pin's Done completes: on ack, on the close, or after the kill (so a read waiting for
//       pins waits at most pin-timeout + kill grace).
//   (2) Every FUSE request given to the link is answered exactly once: a write after its bytes were
//       handled (backpressure: a client cannot queue more than its in-flight writes), a read by data,
//       EOF, or EINTR.
//   (3) Watch requests are handled one at a time, in order; at most MaxRequests wait; the out-queue
//       holds at most MaxOutBytes of replies (plus the last words) and the pins in flight.
//   (4) Pin timeouts come from the actor's timers, one per pin, cancelled by the ack (PinsAcked for
//       acks taken by the fast path).
//
// Threading: the actor runs on wcfs.server.link-dispatcher. FUSE replies are non-blocking writes to
// /dev/fuse and are sent from the actor. The kill (signals, grace period) runs as a task piped back.
using System.Diagnostics;
using Akka.Actor;
using Serilog;
using Wcfs.Actors.Protocol;
using Wcfs.Native.Interop;
using static Wcfs.Actors.Server.WatchLinkProtocol;

namespace Wcfs.Actors.Server;

internal sealed class WatchLinkActor : ReceiveActor, IWithTimers
{
    private readonly WcfsFileSystem _fs;
    private readonly IActorRef _head;
    private readonly ulong _id;
    private readonly ProcessHandle? _opener;
    private readonly WatchLinkProtocol.Settings _settings;
    private readonly FrameSplitter _splitter = new(WatchFrame.MaxBytes - 1);
    private readonly OutQueue _out = new();
    private readonly List<(ulong Req, int Size)> _pendingReads = [];
    private readonly LinkPins _pins;
    private readonly Queue<(ulong Stream, WatchRequest Request)> _requests = new();
    private List<LinkPins.Pending> _killPins = [];
    private ulong? _setupInFlight;
    private ulong _nextStream = 2;
    private bool _released, _dropped, _killing;
    private long _inboundBytes;

    public WatchLinkActor(WcfsFileSystem fs, IActorRef head, ulong id, ProcessHandle? opener, LinkPins pins, WatchLinkProtocol.Settings settings)
    {
        _pins = pins;
        _fs = fs;
        _head = head;
        _id = id;
        _opener = opener;
        _settings = settings;
        Open();
    }

    public ITimerScheduler Timers { get; set; } = null!;

    [ThreadStatic] private static bool _sliced;

    /// <summary>
    /// The link-dispatcher threads ask for short time slices the first time they run a link: pins are
    /// sent from here, and under CPU-bound readers a wake-up of this thread otherwise waits for a
    /// reader's whole slice (VirtmemNative.RequestShortSlice; docs/NOTES.md "Pins under load").
    /// </summary>
    protected override bool AroundReceive(Receive receive, object message)
    {
        if (!_sliced)
        {
            _sliced = true;
            _ = VirtmemNative.RequestShortSlice();
        }
        return base.AroundReceive(receive, message);
    }

    // ---- phases ---------------------------------------------------------------------------------

    private void Open()
    {
        Receive<Inbound>(OnInbound);
        Receive<LinkRead>(OnRead);
        Receive<LinkInterrupt>(OnInterrupt);
        Receive<Released>(_ =>
        {
            _released = true;
            if (_pins.Count > 0)
                Kill("EOF while a pin is outstanding", clientGone: true);
            else
                Close("released", lastWords: null);
        });
        Receive<SendPin>(OnSendPin);
        Receive<PinsAcked>(m =>
        {
            foreach (var stream in m.Streams)
                Timers.Cancel(stream);
        });
        Receive<PinTimedOut>(m =>
        {
            if (_pins.TryGet(m.Stream, out var p))
                Kill($"pin {p.Pin.File} #{p.Pin.Block}: no ack within {_settings.PinTimeout.TotalSeconds:0.0##}s");
        });
        Receive<SetupReply>(OnSetupReply);
        Receive<SetupPinsDone>(m =>
        {
            if (_setupInFlight != m.Stream)
                return;
            Send(new WatchFrame(m.Stream, "ok"));
            NextSetup();
        });
    }

    private void Closed()
    {
        Receive<Inbound>(m =>
        {
            _inboundBytes += m.Length;
            FuseNative.ReplyWrite(m.Request, (ulong)m.Length);
            ReturnChunks(m.Chunks);
            _pins.WriteHandled(splitterHolds: false);
        });
        Receive<LinkRead>(OnRead);
        Receive<LinkInterrupt>(OnInterrupt);
        Receive<SendPin>(m => { m.Done.TrySetResult(); });
        Receive<Released>(_ =>
        {
            _released = true;
            MaybeStop();
        });
        Receive<LinkDropped>(_ =>
        {
            _dropped = true;
            MaybeStop();
        });
        Receive<KillDone>(_ =>
        {
            _killing = false;
            foreach (var p in _killPins)
                p.Done.TrySetResult();
            _killPins = [];
            MaybeStop();
        });
        ReceiveAny(_ => { }); // setup replies, timeouts, setup completions of a closed link
    }

    private void MaybeStop()
    {
        if (_released && _dropped && !_killing)
            Context.Stop(Self);
    }

    // ---- FUSE requests ----------------------------------------------------------------------------

    private void OnInbound(Inbound m)
    {
        _inboundBytes += m.Length;
        try
        {
            string? overLong = null;
            for (var i = 0; i < m.Chunks.Length && overLong is null && !IsClosed; i++)
            {
                var n = Math.Min(ChunkBytes, m.Length - i * ChunkBytes);
                overLong = _splitter.Feed(m.Chunks[i].AsSpan(0, n), OnLine);
            }
            if (overLong is not null && !IsClosed)
                Close("over-long frame", WatchLinkGrammar.InvalidFrame(overLong));
        }
        finally
        {
            FuseNative.ReplyWrite(m.Request, (ulong)m.Length); // invariant (2)
            ReturnChunks(m.Chunks);
            _pins.WriteHandled(_splitter.HoldsPartialLine);
        }
    }

    /// <summary>One line from the client; false once the link closed (the rest is not looked at).</summary>
    private bool OnLine(string line)
    {
        if (!WatchFrame.TryParse(line, out var frame))
            Close("invalid frame", WatchLinkGrammar.InvalidFrame(line));
        else
            Handle(frame);
        return !IsClosed;
    }

    private bool IsClosed { get; set; }

    private void OnRead(LinkRead m)
    {
        if (!_out.IsEmpty || IsClosed)
        {
            FuseNative.ReplyBuf(m.Request, _out.Take(m.Size));
            return;
        }
        // Track first, then look for an interrupt that came before: WcfsFileSystem.Interrupt does
        // the opposite order, so one of the two sees the other (invariant (2)).
        _fs.TrackPendingRead(m.Request, Self);
        if (m.Interrupted || _fs.TakeEarlyInterrupt(m.Request))
        {
            _fs.UntrackPendingRead(m.Request);
            FuseNative.ReplyErr(m.Request, Errno.EINTR);
            return;
        }
        _pendingReads.Add((m.Request, m.Size));
    }

    private void OnInterrupt(LinkInterrupt m)
    {
        var i = _pendingReads.FindIndex(r => r.Req == m.Request);
        if (i < 0)
            return;
        _pendingReads.RemoveAt(i);
        _fs.UntrackPendingRead(m.Request);
        FuseNative.ReplyErr(m.Request, Errno.EINTR);
    }

    // ---- protocol ---------------------------------------------------------------------------------

    private void Handle(WatchFrame frame)
    {
        switch (WatchLinkGrammar.ParseClient(frame.Stream, frame.Text))
        {
            case PinReply r:
                OnPinReply(frame.Stream, r);
                break;
            case ByeRequest:
                Close("bye", lastWords: null);
                break;
            case BadRequest bad:
                Send(new WatchFrame(frame.Stream, WatchLinkGrammar.ErrorReply(bad.Error)));
                break;
            case WatchRequest w:
                if (_requests.Count + (_setupInFlight is null ? 0 : 1) >= _settings.MaxRequests)
                {
                    Close("too many requests", WatchLinkGrammar.TooManyRequests(_settings.MaxRequests));
                    break;
                }
                _requests.Enqueue((frame.Stream, w));
                if (_setupInFlight is null)
                    NextSetup();
                break;
        }
    }

    private void NextSetup()
    {
        _setupInFlight = null;
        if (IsClosed || !_requests.TryDequeue(out var r))
            return;
        _setupInFlight = r.Stream;
        _head.Tell(new HeadProtocol.SetupWatch(_id, r.Stream, r.Request));
    }

    private void OnSetupReply(SetupReply m)
    {
        if (_setupInFlight != m.Stream)
            return;
        if (m.Error is not null)
        {
            Send(new WatchFrame(m.Stream, m.Error));
            NextSetup();
        }
        else if (m.Pins.All(p => p.IsCompleted))
        {
            Send(new WatchFrame(m.Stream, "ok"));
            NextSetup();
        }
        else
        {
            var stream = m.Stream;
            Task.WhenAll(m.Pins).PipeTo(Self, success: () => new SetupPinsDone(stream), failure: _ => new SetupPinsDone(stream));
        }
    }

    private void OnSendPin(SendPin m)
    {
        var stream = _nextStream;
        _nextStream += 2;
        _pins.Add(stream, new LinkPins.Pending(m.Pin, m.Done, Stopwatch.GetTimestamp()));
        Timers.StartSingleTimer(stream, new PinTimedOut(stream), _settings.PinTimeout); // invariant (4)
        _fs.Stats.PinSent();
        Send(new WatchFrame(stream, m.Pin.ToText()), pin: true);
    }

    private void OnPinReply(ulong stream, PinReply reply)
    {
        if (!_pins.TryTake(stream, out var p))
        {
            Kill($"unexpected reply on stream {stream}: {WatchLinkGrammar.Quote(reply.Text)}");
            return;
        }
        Timers.Cancel(stream);
        if (!reply.IsAck)
        {
            Kill($"pin {p.Pin.File} #{p.Pin.Block}: expected ack, got {WatchLinkGrammar.Quote(reply.Text)}");
            p.Done.TrySetResult();
            return;
        }
        _fs.Stats.RecordPinRoundTrip(LinkPins.RoundTrip(p));
        p.Done.TrySetResult();
    }

    // ---- sending and closing ------------------------------------------------------------------------

    private void Send(WatchFrame frame, bool pin = false)
    {
        if (IsClosed)
            return;
        _out.Enqueue(frame.ToString(), reply: !pin);
        if (_out.ReplyBytes > _settings.MaxOutBytes)
        {
            // invariant (3): a client that does not read its replies only loses its link. Pins do
            // not count: a setup may send many at once, and a client that does not read them is
            // killed at the pin timeout.
            Close("reply queue full", "error: " + WatchLinkGrammar.ReplyQueueFull(_settings.MaxOutBytes));
            return;
        }
        DrainToReaders();
    }

    private void DrainToReaders()
    {
        while (_pendingReads.Count > 0 && (!_out.IsEmpty || IsClosed))
        {
            var (req, size) = _pendingReads[0];
            _pendingReads.RemoveAt(0);
            _fs.UntrackPendingRead(req);
            FuseNative.ReplyBuf(req, _out.Take(size));
        }
    }

    /// <summary>Closes without a kill (bye, release, invalid frame, limits): pins complete, watches drop.</summary>
    private void Close(string why, string? lastWords)
    {
        foreach (var p in Shutdown(lastWords))
            p.Done.TrySetResult();
        Log.Debug("watch link {Link} closed: {Why}", _id, why);
        MaybeStop();
    }

    /// <summary>
    /// A faulty client: last words "0 fatal: why", SIGBUS to the opener (SIGKILL after a grace
    /// period), close. <paramref name="clientGone"/>: the link hit EOF (the opener may be exiting).
    /// </summary>
    private void Kill(string why, bool clientGone = false)
    {
        if (IsClosed)
            return;
        Log.Warning("watch link {Link} (pid {Pid}): {Why}; killing the client", _id, _opener?.Pid, why);
        _killPins = Shutdown(WatchLinkGrammar.Fatal(why));
        _killing = true;
        // Through the pidfd taken when the link was opened (ProcessKiller): never a reused pid.
        ProcessKiller.KillAsync(_opener, _fs.Stats, clientGone)
            .PipeTo(Self, success: () => new KillDone(), failure: _ => new KillDone());
    }

    private List<LinkPins.Pending> Shutdown(string? lastWords)
    {
        if (lastWords is not null)
            _out.Enqueue(new WatchFrame(0, lastWords).ToString());
        IsClosed = true;
        Become(Closed);
        _fs.Stats.LinkClosed();
        var pins = new List<LinkPins.Pending>();
        foreach (var (stream, p) in _pins.Close())
        {
            Timers.Cancel(stream);
            pins.Add(p);
        }
        _requests.Clear();
        _setupInFlight = null;
        DrainToReaders();
        _head.Tell(new HeadProtocol.LinkClosed(_id));
        return pins;
    }

    protected override void PostStop()
    {
        _opener?.Dispose();
        if (_inboundBytes >= FloodMemory.FloodBytes)
            FloodMemory.Return();
        // Nothing may be left unanswered (invariant (1), (2)); normally all of this is empty here.
        foreach (var p in _pins.Close().Select(x => x.Pin).Concat(_killPins))
            p.Done.TrySetResult();
        foreach (var (req, _) in _pendingReads)
        {
            _fs.UntrackPendingRead(req);
            FuseNative.ReplyBuf(req, []);
        }
    }
}

/// <summary>
/// Gives the memory of a flood back to the system: after a link that wrote at least FloodBytes
/// ended, one compacting collection (at most one per MinInterval), so the server's RSS returns to
/// where it was (issue 12 goal). Healthy links write a few bytes per ack and never get there.
/// </summary>
internal static class FloodMemory
{
    public const long FloodBytes = 256 << 10;
    private static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(5);
    private static long s_last;

    public static void Return()
    {
        var now = Stopwatch.GetTimestamp();
        var last = Interlocked.Read(ref s_last);
        if ((last != 0 && Stopwatch.GetElapsedTime(last, now) < MinInterval) || Interlocked.CompareExchange(ref s_last, now, last) != last)
            return;
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }
}
