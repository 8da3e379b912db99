// PinnerActor - supervises one native pinner: receives its events (replies, pin copies, link down)
// from a reader thread and routes them. Never on the ack path (PinnerProtocol.cs).
//
// Threading: the reader thread is the single consumer of the native event queue (wcl_conn_poll is
// single-consumer); it blocks only in poll(2) on the conn's eventfd, without a timeout: a conn at rest
// costs no wakeups (a 50 ms poll timeout woke every idle client 20 times a second). PostStop stops it
// before the conn is closed (the conn memory must outlive the reader): it sets _stopping and makes the
// eventfd readable (WakeEvents), the reader polls no event, sees _stopping and ends.
using Akka.Actor;
using Akka.Event;
using Wcfs.Actors.Diagnostics;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

internal sealed class PinnerActor : ReceiveActor
{
    private const int RecentCapacity = 100_000;
    private readonly WclConnHandle? _conn;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly List<IActorRef> _subscribers = [];
    private readonly Queue<TimeSpan> _recent = new();
    private Thread? _reader;
    private volatile bool _stopping;
    private long _pins, _naks;

    public PinnerActor(WclConnHandle? conn)
    {
        _conn = conn;
        Receive<PinnerProtocol.Reply>(r => Context.Parent.Tell(r));
        Receive<PinnerProtocol.PinObserved>(Handle);
        Receive<PinnerProtocol.LastWords>(w => _log.Error("WCFS server's last words on the watch link: {LastWords}", w.Text));
        Receive<PinnerProtocol.LinkDown>(d => Context.Parent.Tell(d)); // no exception: one line from ConnActor, no stack trace
        Receive<PinnerProtocol.Reattaching>(r => Context.Parent.Tell(r));
        Receive<PinnerProtocol.Reattached>(r => Context.Parent.Tell(r));
        Receive<PinnerProtocol.Subscribe>(s => _subscribers.Add(s.Subscriber));
        Receive<PinnerProtocol.GetStats>(_ => Sender.Tell(new PinnerProtocol.PinStats(_pins, _naks, [.. _recent])));
    }

    private void Handle(PinnerProtocol.PinObserved p)
    {
        if (p.Acked)
        {
            _pins++;
            WcfsMetrics.ClientPins.Add(1);
            _log.Debug("pin {Oid} blk {Blk} @{Rev} acked in {PinMicroseconds} µs", p.File, p.Block, p.Rev?.ToString() ?? "head", p.Duration.TotalMicroseconds);
        }
        else
        {
            _naks++;
            WcfsMetrics.ClientPinNaks.Add(1);
            _log.Error("pin {Oid} blk {Blk} @{Rev} answered nak: {Error}", p.File, p.Block, p.Rev?.ToString() ?? "head", p.Error ?? "");
        }
        WcfsMetrics.ClientPinDuration.Record(p.Duration.TotalMicroseconds);
        if (_recent.Count == RecentCapacity)
            _recent.Dequeue();
        _recent.Enqueue(p.Duration);
        Context.Parent.Tell(p);
        foreach (var s in _subscribers)
            s.Tell(p);
    }

    protected override void PreStart()
    {
        if (_conn is null)
            return;
        var self = Self;
        var conn = _conn;
        _reader = new Thread(() => ReadLoop(conn, self)) { IsBackground = true, Name = "wcfs-pinner-events" };
        _reader.Start();
    }

    protected override void PostStop()
    {
        _stopping = true;
        if (_reader is null)
            return;
        var added = false;
        try
        {
            _conn!.DangerousAddRef(ref added); // the native conn stays alive while we write to its eventfd
            ClientNative.WakeEvents(_conn.EventFd);
        }
        catch (ObjectDisposedException)
        {
            // closed before its pinner stopped (ConnActor's invariant C3 forbids it): the reader, which
            // holds its own reference, cannot be woken; never hang the actor system's shutdown on it
            return;
        }
        finally
        {
            if (added)
                _conn!.DangerousRelease();
        }
        _reader.Join(); // why: the reader ends right after the wake-up; the conn must outlive its reader
    }

    private void ReadLoop(WclConnHandle conn, IActorRef self)
    {
        var buf = new ClientNative.Event[64];
        var added = false;
        conn.DangerousAddRef(ref added); // the native conn outlives this loop (ConnActor invariant C3)
        try
        {
            var fd = conn.EventFd;
            while (!_stopping)
            {
                if (!ClientNative.WaitEvents(fd, -1))
                    continue; // EINTR
                int n;
                while ((n = conn.Poll(buf)) > 0)
                    for (var i = 0; i < n; i++)
                        if (PinnerProtocol.ToMessage(buf[i]) is { } m)
                            self.Tell(m);
            }
        }
        finally
        {
            if (added)
                conn.DangerousRelease();
        }
    }
}
