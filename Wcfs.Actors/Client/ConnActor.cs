// ConnActor - one WCFS Conn: a view @at with one watch link, its PinnerActor and one FileHActor per
// open file (ARCHITECTURE.md §7). Protocol: ConnProtocol.cs.
//
// Phases (Become):
//   Ready      -- Resync(at >= current) --> Resyncing -- all re-watches answered --> Ready
//   Ready      -- Resync(at < current) | Close --> Closing -- files closed, pinner stopped --> (stop)
//   any        -- LinkDown --> same phase, broken: pending requests fail, new ones are refused
//   any        -- Reattaching --> same phase, re-attaching: the server died, the native pinner waits for
//                 a new one (wcfs.client.reattach-timeout) and re-maps and re-watches natively; requests
//                 are held (in flight ones are re-sent), Open and Resync are stashed
//              -- Reattached --> held requests re-sent, stash replayed | -- LinkDown --> broken
//
// Invariants:
//   (C1) a file is registered natively (pins served) before its watch request is sent, and stays
//        registered until its unwatch was answered: a pin for it is never naked (a nak makes the
//        server kill this process).
//   (C2) a client request is a non-blocking write of one frame; its reply comes back as a message
//        from PinnerActor, so nothing here ever waits for the server while the pinner needs it.
//   (C3) the native conn is closed only after every file closed and the PinnerActor (the only
//        reader of the native event queue) stopped.
//   (C4) the native conn knows the conn's at (SetAt after start and after every resync): a re-attach
//        re-watches there; nothing of a re-attach waits on this actor (faults wait natively).
//   (C5) after a re-attach whose re-watches were refused (the new server's history starts after the
//        conn's at) the conn is on the snapshot floor: a watch refused later (resync to an at still
//        before that history, or an open) maps that file from @at instead of failing - the snapshot
//        is immutable, so it is right whatever the server knows; an accepted one lifts the file's floor.
using Akka.Actor;
using Akka.Event;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

internal sealed class ConnActor : ReceiveActor, IWithUnboundedStash
{
    private sealed class OpenFile(Oid oid, WclFileHandle handle, IActorRef actor, FileH api)
    {
        public Oid Oid { get; } = oid;
        public WclFileHandle Handle { get; } = handle;
        public IActorRef Actor { get; } = actor;
        public FileH Api { get; } = api;
        public int Refs { get; set; }
    }

    private readonly ConnProtocol.Settings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Oid, OpenFile> _files = [];
    private readonly Dictionary<Oid, List<IActorRef>> _opening = [];
    private readonly Dictionary<Oid, List<IActorRef>> _closing = [];
    private readonly Dictionary<ulong, (string Text, Action<string> OnReply)> _pending = [];
    private readonly List<(string Text, Action<string> OnReply)> _held = [];
    private bool _reattaching;
    private string? _reattachingText;
    private WclConnHandle? _conn;
    private IActorRef? _pinner;
    private Tid _at;
    private string? _broken;
    private (IActorRef ReplyTo, object Reply)? _closeReply;
    private int _closeRemaining;

    private readonly ConnLifetime _lifetime;

    public ConnActor(ConnProtocol.Settings settings, ConnLifetime lifetime)
    {
        _settings = settings;
        _lifetime = lifetime;
        Receive<ConnProtocol.Start>(Handle);
        Common();
        Ready();
    }

    public IStash Stash { get; set; } = null!;

    protected override SupervisorStrategy SupervisorStrategy()
    {
        var self = Self;
        return new OneForOneStrategy(e =>
        {
            self.Tell(new PinnerProtocol.LinkDown("pinner actor failed: " + e.Message));
            return Directive.Stop;
        });
    }

    // ---- phases --------------------------------------------------------------------------------

    private void Common()
    {
        Receive<PinnerProtocol.Reply>(Handle);
        Receive<PinnerProtocol.PinObserved>(p => { if (_files.TryGetValue(p.File, out var f)) f.Actor.Tell(p); });
        Receive<PinnerProtocol.LinkDown>(Handle);
        Receive<PinnerProtocol.Reattaching>(Handle);
        Receive<PinnerProtocol.Reattached>(Handle);
        Receive<FileHProtocol.FileClosed>(Handle);
        Receive<Terminated>(t =>
        {
            if (!t.ActorRef.Equals(_pinner))
                return;
            _pinner = null;
            if (_closeReply is not null && _closeRemaining <= 0)
                FinishClose();
        });
        Receive<ConnProtocol.GetState>(_ => Sender.Tell(new ConnProtocol.ConnState(_at, _files.ToDictionary(f => f.Key, f => f.Value.Refs), _broken,
            _reattaching ? _reattachingText : null, _pinner is not null)));
    }

    private void Ready()
    {
        Receive<ConnProtocol.Open>(o => { if (_reattaching) Stash.Stash(); else Handle(o); });
        Receive<ConnProtocol.Release>(Handle);
        Receive<ConnProtocol.Resync>(r => { if (_reattaching) Stash.Stash(); else Handle(r); });
        Receive<ConnProtocol.Close>(_ => StartClose(Sender, new ConnProtocol.Closed()));
    }

    private void Resyncing()
    {
        Common();
        ReceiveAny(_ => Stash.Stash());
    }

    private void Closing()
    {
        Common();
        Receive<ConnProtocol.Close>(_ => Sender.Tell(new ConnProtocol.Closed()));
        ReceiveAny(m => Sender.Tell(new Status.Failure(new ObjectDisposedException("Conn", "the WCFS connection is closed"))));
    }

    // ---- start ---------------------------------------------------------------------------------

    private void Handle(ConnProtocol.Start s)
    {
        try
        {
            _conn = WclConnHandle.Open(_settings.Mountpoint);
            _at = s.At;
            _conn.SetAt(_at.Value); // invariant (C4)
            _conn.SetReattach(_settings.ReattachTimeout);
            if (_settings.Autostart is { Argv.Count: > 0 } start)
                _conn.SetAutostart(start.Argv, start.Input);
            _pinner = Context.ActorOf(PinnerProtocol.Props(_conn, _settings.Dispatcher), "pinner");
            Context.Watch(_pinner);
            Sender.Tell(new ConnProtocol.Started(Self));
        }
        catch (WcfsClientException e)
        {
            Sender.Tell(new Status.Failure(e));
            Context.Stop(Self);
        }
    }

    // ---- requests on the link (invariant C2) ---------------------------------------------------

    /// <summary>Writes one request; while re-attaching (or when the link just dropped and a re-attach may
    /// follow) it is held and sent on the new link. Throws WcfsClientException if the link is down for good.</summary>
    private void SendRequest(string text, Action<string> onReply)
    {
        if (_reattaching)
        {
            _held.Add((text, onReply));
            return;
        }
        try
        {
            var stream = _conn!.Request(text);
            _pending[stream] = (text, onReply);
        }
        catch (WcfsClientException e) when (_broken is null && _settings.ReattachTimeout > TimeSpan.Zero && (e is WcfsServerGoneException || !_conn!.IsUp))
        {
            // The link is dead, possibly before the pinner noticed (its flag still up: the write saw ENOTCONN
            // first). The pinner reports Reattaching (held requests are sent then) or LinkDown (they fail then).
            _reattaching = true;
            _held.Add((text, onReply));
        }
    }

    private void Handle(PinnerProtocol.Reply r)
    {
        if (_pending.Remove(r.Stream, out var k))
            k.OnReply(r.Text);
        else
            _log.Warning("reply on stream {Stream} that no request waits for: {Reply}", r.Stream, r.Text);
    }

    private void Handle(PinnerProtocol.LinkDown d)
    {
        if (_broken is not null)
            return;
        _broken = d.Reason;
        _reattaching = false;
        _log.Warning("WCFS conn @{At}: watch link down: {Reason}", _at, d.Reason); // one line: the server died or refused us
        var pending = _pending.Values.Concat(_held).ToList();
        _pending.Clear();
        _held.Clear();
        foreach (var k in pending)
            k.OnReply("error watch link down: " + d.Reason);
        Stash.UnstashAll(); // held Open/Resync now fail with the conn's error
    }

    private void Handle(PinnerProtocol.Reattaching r)
    {
        if (_broken is not null)
            return;
        _log.Warning("WCFS conn @{At}: {Event}", _at, r.Text);
        _reattaching = true;
        _reattachingText = r.Text;
        // replies of the dead server never come: send these requests again on the new link
        _held.InsertRange(0, _pending.OrderBy(p => p.Key).Select(p => p.Value));
        _pending.Clear();
    }

    private void Handle(PinnerProtocol.Reattached r)
    {
        if (_broken is not null)
            return;
        _log.Warning("WCFS conn @{At}: {Event}", _at, r.Text);
        _reattaching = false;
        Context.Parent.Tell(new WcfsProtocol.ConnReattached()); // the client renews .wcfs/zurl
        var held = _held.ToList();
        _held.Clear();
        foreach (var (text, onReply) in held)
        {
            try
            {
                SendRequest(text, onReply);
            }
            catch (WcfsClientException e)
            {
                onReply("error " + e.Message);
            }
        }
        Stash.UnstashAll();
    }

    /// <summary>
    /// A native call of an Open or a Resync found the mount gone (the server died) before the pinner reported the
    /// link's loss. With re-attach on, the pinner will report Reattaching (the message then waits for Reattached,
    /// as if it had come during the gap) or LinkDown (it then fails with the conn's error): the current message is
    /// stashed and the conn counts as re-attaching from now. False (re-attach off, or broken): fail as before.
    /// </summary>
    private bool DeferUntilLinkVerdict()
    {
        if (_broken is not null || _settings.ReattachTimeout <= TimeSpan.Zero)
            return false;
        _reattaching = true;
        Stash.Stash();
        return true;
    }

    private WcfsServerGoneException Gone(string what) =>
        new($"{what}: the WCFS connection is broken ({_broken}); the server is gone or refused the client, open a new connection");

    // ---- files ---------------------------------------------------------------------------------

    private void Handle(ConnProtocol.Open o)
    {
        if (_broken is not null)
        {
            Sender.Tell(new Status.Failure(Gone($"open {o.File}")));
            return;
        }
        if (_closing.ContainsKey(o.File))
        {
            Stash.Stash(); // reopened while its close runs: after FileClosed
            return;
        }
        if (_files.TryGetValue(o.File, out var f))
        {
            f.Refs++;
            Sender.Tell(new ConnProtocol.Opened(f.Api));
            return;
        }
        if (_opening.TryGetValue(o.File, out var waiters))
        {
            waiters.Add(Sender);
            return;
        }
        WclFileHandle h;
        try
        {
            h = WclFileHandle.Open(_conn!, o.File.Value, _at.Value); // invariant (C1)
            SendRequest(WatchLinkGrammar.FormatWatch(o.File, _at), reply => Watched(o.File, h, reply));
        }
        catch (WcfsServerGoneException) when (DeferUntilLinkVerdict())
        {
            return; // opened on the new server after the re-attach
        }
        catch (Exception e) when (e is WcfsClientException or ArgumentException)
        {
            Sender.Tell(new Status.Failure(e));
            return;
        }
        _opening[o.File] = [Sender];
    }

    private void Watched(Oid oid, WclFileHandle h, string reply)
    {
        _opening.Remove(oid, out var waiters);
        if (reply != "ok" && !FloorAfterRefusal(h, _at))
        {
            h.Dispose();
            var e = _broken is not null ? Gone($"watch {oid} @{_at}") : new WcfsClientException($"watch {oid} @{_at}: the server answered \"{reply}\"");
            foreach (var w in waiters!)
                w.Tell(new Status.Failure(e));
            return;
        }
        var actor = Context.ActorOf(FileHProtocol.Props(oid, h, _settings.Dispatcher), "file-" + oid);
        var api = new FileH(oid, h, actor, Self, _settings.AskTimeout, _lifetime);
        _files[oid] = new OpenFile(oid, h, actor, api) { Refs = waiters!.Count };
        foreach (var w in waiters)
            w.Tell(new ConnProtocol.Opened(api));
    }

    private void Handle(ConnProtocol.Release r)
    {
        if (!_files.TryGetValue(r.File, out var f) || --f.Refs > 0)
        {
            Sender.Tell(new ConnProtocol.Released(r.File));
            return;
        }
        _files.Remove(r.File);
        _closing[r.File] = [Sender];
        Unwatch(f);
    }

    /// <summary>Unwatch (invariant C1), then close natively; FileClosed comes back.</summary>
    private void Unwatch(OpenFile f)
    {
        if (_broken is null && _conn!.IsUp)
        {
            try
            {
                SendRequest(WatchLinkGrammar.FormatWatch(f.Oid, null), _ => f.Actor.Tell(new FileHProtocol.CloseFile()));
                return;
            }
            catch (WcfsClientException e)
            {
                _log.Warning("unwatch {Oid}: {Error}", f.Oid, e.Message);
            }
        }
        f.Actor.Tell(new FileHProtocol.CloseFile());
    }

    private void Handle(FileHProtocol.FileClosed c)
    {
        if (_closing.Remove(c.File, out var waiters))
        {
            foreach (var w in waiters)
                w.Tell(new ConnProtocol.Released(c.File));
            Stash.UnstashAll();
        }
        if (_closeReply is not null && --_closeRemaining == 0)
            StopPinner();
    }

    // ---- resync (ARCHITECTURE.md §7, VIRTMEM.md §4.5) -------------------------------------------

    private void Handle(ConnProtocol.Resync r)
    {
        if (_broken is not null)
        {
            Sender.Tell(new Status.Failure(Gone($"resync to @{r.At}")));
            return;
        }
        if (r.At < _at)
        {
            StartClose(Sender, new Status.Failure(new InvalidOperationException(
                $"resync to @{r.At}: going back in history from @{_at} is forbidden; the connection is now closed")));
            return;
        }
        var replyTo = Sender;
        try
        {
            foreach (var f in _files.Values)
                f.Handle.Resize(r.At.Value); // sizes as of the new at; grown blocks un-zeroed, pins kept
            _conn!.DropRevCache();
        }
        catch (WcfsServerGoneException) when (DeferUntilLinkVerdict())
        {
            return; // retried after the re-attach (files already resized stay: a resize is idempotent)
        }
        catch (Exception e) when (e is WcfsClientException or ArgumentException)
        {
            _broken = "resync failed: " + e.Message;
            replyTo.Tell(new Status.Failure(e));
            return;
        }
        var remaining = _files.Count;
        var errors = new List<string>();
        if (remaining == 0)
        {
            _at = r.At;
            _conn!.SetAt(_at.Value); // invariant (C4)
            replyTo.Tell(new ConnProtocol.Resynced(r.At));
            return;
        }
        Become(Resyncing);
        var accepted = new List<OpenFile>();
        foreach (var f in _files.Values.ToList())
            SendOrFail(WatchLinkGrammar.FormatWatch(f.Oid, r.At), reply =>
            {
                if (reply == "ok")
                    accepted.Add(f);
                else if (!FloorAfterRefusal(f.Handle, r.At))
                    errors.Add($"{f.Oid}: {reply}");
                if (--remaining > 0)
                    return;
                _at = r.At;
                if (errors.Count > 0)
                {
                    Exception e = _broken is not null ? Gone($"resync to @{r.At}") : new WcfsClientException($"resync to @{r.At}: {string.Join("; ", errors)}");
                    _broken ??= "resync failed: " + string.Join("; ", errors);
                    replyTo.Tell(new Status.Failure(e));
                }
                else
                {
                    try
                    {
                        _conn!.SetAt(_at.Value); // invariant (C4)
                        foreach (var a in accepted)
                            a.Handle.Floor(0); // blocks a re-attach left on the snapshot go back to head
                        replyTo.Tell(new ConnProtocol.Resynced(r.At));
                    }
                    catch (WcfsClientException e)
                    {
                        _broken ??= "resync failed: " + e.Message;
                        replyTo.Tell(new Status.Failure(e));
                    }
                }
                Become(() => { Common(); Ready(); });
                Stash.UnstashAll();
            });
    }

    /// <summary>
    /// A watch at <paramref name="at"/> was refused. On a conn a re-attach left on the snapshot floor (the new
    /// server's history starts after the conn's at, so it refuses watches that far back) the file is mapped from
    /// @at instead (all of it the immutable snapshot, no pins needed): true. Otherwise the refusal is an error.
    /// </summary>
    private bool FloorAfterRefusal(WclFileHandle h, Tid at)
    {
        if (_broken is not null)
            return false;
        try
        {
            return h.Floor(at.Value);
        }
        catch (WcfsClientException e)
        {
            _log.Warning("WCFS conn @{At}: mapping the snapshot @{Target} failed: {Error}", _at, at, e.Message);
            return false;
        }
    }

    /// <summary>SendRequest, or the callback with an error reply if the link is down for good.</summary>
    private void SendOrFail(string text, Action<string> onReply)
    {
        try
        {
            SendRequest(text, onReply);
        }
        catch (WcfsClientException e)
        {
            onReply("error " + e.Message);
        }
    }

    // ---- close (invariant C3) ------------------------------------------------------------------

    private void StartClose(IActorRef replyTo, object reply)
    {
        _lifetime.MarkClosed(reply is Status.Failure failure ? failure.Cause.Message : "closed");
        _closeReply = (replyTo, reply);
        Become(Closing);
        foreach (var w in _opening.Values.SelectMany(x => x))
            w.Tell(new Status.Failure(new ObjectDisposedException("Conn", "the WCFS connection was closed while opening")));
        var files = _files.Values.ToList();
        _files.Clear();
        _closeRemaining = files.Count + _closing.Count;
        if (_closeRemaining == 0)
        {
            StopPinner();
            return;
        }
        foreach (var f in files)
            Unwatch(f);
    }

    private void StopPinner()
    {
        if (_pinner is null)
            FinishClose();
        else
            Context.Stop(_pinner);
    }

    private void FinishClose()
    {
        _pinner = null;
        _conn?.Dispose(); // bye; the native pinner reads EOF and exits
        _conn = null;
        if (_closeReply is { } c)
            c.ReplyTo.Tell(c.Reply);
        Context.Stop(Self);
    }

    protected override void PostStop()
    {
        _lifetime.MarkClosed("the actor runtime stopped");
        if (_conn is null)
            return;
        // stopped without Close (the runtime shut down): bye first so that no pin can arrive for a file
        // that is no longer registered (invariant C1), then close
        try { if (_conn.IsUp) _conn.Request("bye"); } catch (WcfsClientException) { }
        foreach (var f in _files.Values)
            f.Handle.Dispose();
        _conn.Dispose();
    }
}
