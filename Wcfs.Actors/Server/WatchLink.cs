// WatchLink - one open of head/watch: the server side of the isolation protocol (PROTOCOL.md §4).
//
//   C: 1 watch <oid> @<at>        S: 2 pin <oid> #<blk> @<rev>     C: 2 ack        S: 1 ok
//   C: 3 watch <oid> -            S: 3 ok
//   C: 5 bye                      (server closes: the client reads EOF)
//   S: 0 fatal: <why>             (then SIGBUS, SIGKILL after a grace period, link closed)
//
// States: Open → (bye | invalid frame | release without pins) Closed
//         Open → (nak | malformed reply | pin timeout | EOF with a pin outstanding) Killing → Closed
//
// Invariants:
//   (1) A pin is sent at most once per (watch, blk, rev); a second request for the same pin gets the
//       first one's completion (Watch.Pinned).
//   (2) Every pin task completes: on ack, on the link's close, or after its client was killed. So a
//       read waiting for pins never waits longer than pin-timeout + kill grace.
//   (3) Outbound frames are queued whole, in order; reads of the link drain the queue; after close
//       and drain a read returns EOF.
//   (4) Each pending read of the link (a FUSE request) is answered exactly once: by data, by EOF on
//       close, or by EINTR when the kernel interrupts it.
//   (5) Lock order (Head.Lock → Link.Lock); FUSE replies and kills happen outside Link.Lock.
//
// Threading: OnWrite/OnRead/OnRelease run on libfuse threads and return quickly; watch setup runs
// as a task (one at a time per link); pin timeouts fire on timer threads.
using System.Text;
using Serilog;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal sealed class WatchLink(WcfsFileSystem fs, ulong id, ProcessHandle? opener)
{
    private sealed record PendingPin(PinRequest Pin, TaskCompletionSource Done, Timer Timer, long SentTimestamp);

    private readonly Queue<byte> _out = new();
    private readonly List<(ulong Req, int Size)> _pendingReads = [];
    private readonly StringBuilder _in = new();
    private readonly Dictionary<ulong, PendingPin> _pins = [];
    private readonly SemaphoreSlim _setupTurn = new(1, 1);
    private ulong _nextStream = 2;
    private bool _closed;

    public ulong Id { get; } = id;
    /// <summary>The opener's pid, for logs only: kills go through its pidfd (ProcessKiller.cs).</summary>
    public int OpenerPid => opener?.Pid ?? 0;
    public object Lock { get; } = new();
    /// <summary>oid → watch; guarded by Head.Lock.</summary>
    public Dictionary<Oid, Watch> Watches { get; } = [];

    // ---- FUSE side -------------------------------------------------------------------------

    /// <summary>Data written by the client (libfuse thread). Returns the count to reply.</summary>
    public void OnWrite(ReadOnlySpan<byte> data)
    {
        var frames = new List<string>();
        string? unframed = null;
        lock (Lock)
        {
            if (_closed)
                return;
            _in.Append(Encoding.UTF8.GetString(data));
            while (true)
            {
                var s = _in.ToString();
                var nl = s.IndexOf('\n', StringComparison.Ordinal);
                if (nl < 0)
                {
                    if (Encoding.UTF8.GetByteCount(s) >= WatchFrame.MaxBytes)
                        unframed = s;
                    break;
                }
                frames.Add(s[..nl]);
                _in.Remove(0, nl + 1);
            }
        }
        foreach (var line in frames)
        {
            if (!WatchFrame.TryParse(line, out var frame))
            {
                unframed = line;
                break;
            }
            Handle(frame);
        }
        if (unframed is not null)
            CloseWithLastWords(WatchLinkGrammar.InvalidFrame(unframed));
    }

    /// <summary>A read of the link (libfuse thread): answered now if data or EOF is ready, else later.</summary>
    public void OnRead(ulong req, int size, bool interrupted)
    {
        byte[]? data;
        lock (Lock)
        {
            if (_out.Count == 0 && !_closed)
            {
                // Track first, then look for an interrupt that came before: with OnInterrupt
                // doing the opposite order, one of the two sees the other (invariant (4)).
                fs.TrackPendingRead(req, this);
                if (!interrupted && !fs.TakeEarlyInterrupt(req))
                {
                    _pendingReads.Add((req, size));
                    return;
                }
                fs.UntrackPendingRead(req);
                data = null;
            }
            else
            {
                data = Take(size);
            }
        }
        if (data is null)
            FuseNative.ReplyErr(req, Errno.EINTR);
        else
            FuseNative.ReplyBuf(req, data);
    }

    /// <summary>The kernel interrupts a pending read of this link (its caller got a signal).</summary>
    public void OnInterrupt(ulong req)
    {
        lock (Lock)
        {
            var i = _pendingReads.FindIndex(r => r.Req == req);
            if (i < 0)
                return;
            _pendingReads.RemoveAt(i);
        }
        fs.UntrackPendingRead(req);
        FuseNative.ReplyErr(req, Errno.EINTR);
    }

    /// <summary>The last close of the link's file (libfuse thread).</summary>
    public void OnRelease()
    {
        bool pinsOutstanding;
        lock (Lock)
            pinsOutstanding = !_closed && _pins.Count > 0;
        if (pinsOutstanding)
            Kill("EOF while a pin is outstanding", clientGone: true);
        else
            Close("released");
    }

    // ---- protocol --------------------------------------------------------------------------

    private void Handle(WatchFrame frame)
    {
        var msg = WatchLinkGrammar.ParseClient(frame.Stream, frame.Text);
        switch (msg)
        {
            case PinReply r:
                OnPinReply(frame.Stream, r);
                break;
            case ByeRequest:
                Close("bye");
                break;
            case BadRequest bad:
                Send(new WatchFrame(frame.Stream, WatchLinkGrammar.ErrorReply(bad.Error)));
                break;
            case WatchRequest w:
                _ = SetupAsync(frame.Stream, w);
                break;
        }
    }

    private void OnPinReply(ulong stream, PinReply reply)
    {
        PendingPin? p;
        lock (Lock)
        {
            if (_pins.Remove(stream, out p))
                p.Timer.Dispose();
        }
        if (p is null)
        {
            Kill($"unexpected reply on stream {stream}: {WatchLinkGrammar.Quote(reply.Text)}");
            return;
        }
        if (!reply.IsAck)
        {
            Kill($"pin {p.Pin.File} #{p.Pin.Block}: expected ack, got {WatchLinkGrammar.Quote(reply.Text)}");
            p.Done.TrySetResult();
            return;
        }
        fs.Stats.RecordPinRoundTrip(System.Diagnostics.Stopwatch.GetElapsedTime(p.SentTimestamp));
        p.Done.TrySetResult();
    }

    private async Task SetupAsync(ulong stream, WatchRequest req)
    {
        await _setupTurn.WaitAsync().ConfigureAwait(false);
        try
        {
            var reply = await fs.Watches.SetupAsync(this, req).ConfigureAwait(false);
            Send(new WatchFrame(stream, reply));
        }
        catch (Exception e)
        {
            Log.Error(e, "watch setup failed on link {Link}: {Request}", Id, req);
            Send(new WatchFrame(stream, WatchLinkGrammar.ErrorReply("internal error: " + e.Message)));
        }
        finally
        {
            _setupTurn.Release();
        }
    }

    /// <summary>
    /// Sends (once) a pin of blk of w to rev (null: back to head) and returns its completion
    /// (invariants (1), (2)). Caller holds Head.Lock.
    /// </summary>
    public Task EnsurePin(Watch w, long blk, Tid? rev)
    {
        PinRequest pin;
        TaskCompletionSource done;
        List<(ulong, byte[])> replies;
        lock (Lock)
        {
            if (_closed)
                return Task.CompletedTask;
            if (w.Pinned.TryGetValue(blk, out var cur))
            {
                if (rev is { } r0 && cur.Rev == r0)
                    return cur.Done;
            }
            else if (rev is null)
            {
                return Task.CompletedTask;
            }
            pin = new PinRequest(w.File.Oid, new BlockNumber(blk), rev);
            done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var stream = _nextStream;
            _nextStream += 2;
            var timer = new Timer(_ => Kill($"pin {pin.File} #{pin.Block}: no ack within {fs.PinTimeout.TotalSeconds:0.0#}s"),
                null, Timeout.Infinite, Timeout.Infinite);
            _pins[stream] = new PendingPin(pin, done, timer, System.Diagnostics.Stopwatch.GetTimestamp());
            if (rev is { } r)
                w.Pinned[blk] = new PinState(r, done.Task);
            else
                w.Pinned.Remove(blk);
            Enqueue(new WatchFrame(stream, pin.ToText()));
            replies = DrainToReadersLocked();
            timer.Change(fs.PinTimeout, Timeout.InfiniteTimeSpan);
        }
        fs.Stats.PinSent();
        Answer(replies);
        return done.Task;
    }

    /// <summary>True once the link closed (bye, EOF, error, kill); a closed link gets no new watches.</summary>
    public bool IsClosed
    {
        get { lock (Lock) return _closed; }
    }

    public int PinnedCount()
    {
        lock (Lock)
        {
            var n = 0;
            foreach (var w in Watches.Values)
                n += w.Pinned.Count;
            return n;
        }
    }

    // ---- sending and closing ---------------------------------------------------------------

    public void Send(WatchFrame frame)
    {
        List<(ulong, byte[])> replies;
        lock (Lock)
        {
            if (_closed)
                return;
            Enqueue(frame);
            replies = DrainToReadersLocked();
        }
        Answer(replies);
    }

    /// <summary>Closes without a kill (bye, release, invalid frame): pins complete, watches drop.</summary>
    public void Close(string why) => Shutdown(why, lastWords: null);

    private void CloseWithLastWords(string words) => Shutdown(words, lastWords: words);

    /// <summary>
    /// A faulty client: last words "0 fatal: why", SIGBUS to the opener (SIGKILL after a grace
    /// period), close. <paramref name="clientGone"/>: the link hit EOF (the opener may be exiting).
    /// </summary>
    public void Kill(string why, bool clientGone = false)
    {
        lock (Lock)
        {
            if (_closed)
                return;
        }
        Log.Warning("watch link {Link} (pid {Pid}): {Why}; killing the client", Id, OpenerPid, why);
        var pins = Shutdown(why, lastWords: WatchLinkGrammar.Fatal(why), completePins: false);
        _ = Task.Run(async () =>
        {
            try
            {
                await ProcessKiller.KillAsync(opener, fs.Stats, clientGone).ConfigureAwait(false);
            }
            finally
            {
                opener?.Dispose();
                foreach (var p in pins)
                    p.Done.TrySetResult();
            }
        });
    }

    private List<PendingPin> Shutdown(string why, string? lastWords, bool completePins = true)
    {
        List<PendingPin> pins;
        List<(ulong, byte[])> replies;
        lock (Lock)
        {
            if (_closed)
                return [];
            if (lastWords is not null)
                Enqueue(new WatchFrame(0, lastWords));
            _closed = true;
            pins = [.. _pins.Values];
            _pins.Clear();
            foreach (var p in pins)
                p.Timer.Dispose();
            replies = DrainToReadersLocked();
        }
        Answer(replies);
        fs.Watches.DropLink(this);
        if (completePins)
        {
            opener?.Dispose();
            foreach (var p in pins)
                p.Done.TrySetResult();
        }
        Log.Debug("watch link {Link} closed: {Why}", Id, why);
        return pins;
    }

    private void Enqueue(WatchFrame frame)
    {
        foreach (var b in Encoding.UTF8.GetBytes(frame.ToString()))
            _out.Enqueue(b);
    }

    private byte[] Take(int size)
    {
        var n = Math.Min(size, _out.Count);
        var data = new byte[n];
        for (var i = 0; i < n; i++)
            data[i] = _out.Dequeue();
        return data;
    }

    private List<(ulong, byte[])> DrainToReadersLocked()
    {
        var replies = new List<(ulong, byte[])>();
        while (_pendingReads.Count > 0 && (_out.Count > 0 || _closed))
        {
            var (req, size) = _pendingReads[0];
            _pendingReads.RemoveAt(0);
            replies.Add((req, Take(size)));
        }
        return replies;
    }

    private void Answer(List<(ulong Req, byte[] Data)> replies)
    {
        foreach (var (req, data) in replies)
        {
            fs.UntrackPendingRead(req);
            FuseNative.ReplyBuf(req, data);
        }
    }
}
