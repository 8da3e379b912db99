// WatchRegistry - who watches what, and the pin decisions of watch setup (PROTOCOL.md §4.3) and of
// lazy pins on access (§4.4), over Head's state. Every method runs under Head.Lock (callers: the
// HeadActor for setup, stop and link drops; FUSE read threads for PinsForRead), so it is the one
// place where "which pin does this watch need" is decided, in one order.
//
// Invariants:
//   (1) After setup of w at `at` is acknowledged (`ok`), w.Pinned holds exactly the accessed
//       blocks of F that changed in (at, DataAt], each at Head.RevFor(F, blk, at); so the pinned set
//       after any increasing sequence of setups equals that of a fresh watch at the final at.
//   (2) A read of blocks B of F through head is answered only after every watch w of F with
//       w.At older than some b's last change got its pin for b (or its client was killed).
//   (3) Setup and the read-side pin decision happen under Head.Lock, after the read marked its
//       blocks accessed and after the setup registered its watch: a concurrent read and setup
//       cannot both miss a block.
//   (4) A pin is decided at most once per (watch, blk, rev): w.Pinned remembers it with its
//       completion, and the pin is told to the link's actor under Head.Lock, so the link sends pins
//       and unpins of one block in the order they were decided.
using Akka.Actor;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Server;

internal sealed class WatchRegistry(Head head)
{
    private readonly Dictionary<ulong, Dictionary<Oid, Watch>> _byLink = [];

    /// <summary>(watches, pinned blocks) now (caller holds Head.Lock).</summary>
    public (int Watches, int Pinned) Counts()
    {
        int watches = 0, pinned = 0;
        foreach (var link in _byLink.Values)
        {
            watches += link.Count;
            foreach (var w in link.Values)
                pinned += w.Pinned.Count;
        }
        return (watches, pinned);
    }

    /// <summary>
    /// Sets up (or moves) the watch of link on file at at (caller holds Head.Lock, head/at ≥ at).
    /// Returns the pins the "ok" must wait for, or sets <paramref name="error"/> (without "error ").
    /// </summary>
    public List<Task> Setup(ulong linkId, IActorRef link, Oid file, Tid at, out string? error)
    {
        error = null;
        List<Task> pins = [];
        if (at < head.Tail)
            error = WatchLinkGrammar.TooFarBack(file, at, head.HeadAt, head.Tail);
        else if (!head.Files.TryGetValue(file, out var f))
            error = WatchLinkGrammar.UnknownFile(file, at);
        else if (f.CreatedAt is { } created && at < created)
            error = WatchLinkGrammar.FileNotYetCreated(file, at, created);
        else
        {
            if (!_byLink.TryGetValue(linkId, out var watches))
                _byLink[linkId] = watches = [];
            if (watches.TryGetValue(file, out var w))
            {
                if (at < w.At)
                {
                    error = WatchLinkGrammar.GoingBack(file, at, w.At);
                    return pins;
                }
                w.At = at;
            }
            else
            {
                w = new Watch(linkId, link, f, at);
                watches[file] = w;
                f.Watches.Add(w);
            }
            // invariant (1): pin what needs it, unpin what no longer does.
            var needed = new HashSet<long>();
            foreach (var blk in f.Accessed)
            {
                if (!Head.ChangedAfter(f, blk, at))
                    continue;
                needed.Add(blk);
                AddPending(pins, EnsurePin(w, blk, head.RevFor(f, blk, at)));
            }
            foreach (var blk in w.Pinned.Keys.ToList())
                if (!needed.Contains(blk))
                    AddPending(pins, EnsurePin(w, blk, null));
        }
        return pins;
    }

    /// <summary>"watch F -": the watch and its pinned state are dropped (caller holds Head.Lock).</summary>
    public void Stop(ulong linkId, Oid file)
    {
        if (_byLink.TryGetValue(linkId, out var watches) && watches.Remove(file, out var w))
            w.File.Watches.Remove(w);
    }

    /// <summary>Drops every watch of a closed link (caller holds Head.Lock).</summary>
    public void DropLink(ulong linkId)
    {
        if (!_byLink.Remove(linkId, out var watches))
            return;
        foreach (var w in watches.Values)
            w.File.Watches.Remove(w);
    }

    /// <summary>
    /// For CommitPrefetcher (caller holds Head.Lock): whether a read of blocks [b0, b1] of f now
    /// would wait for a pin (one PinsForRead would send, or one sent and not acknowledged yet).
    /// Sends nothing. Mirrors PinsForRead and EnsurePin.
    /// </summary>
    public bool WouldWaitForPins(HeadFile f, long b0, long b1)
    {
        if (f.Watches.Count == 0)
            return false;
        for (var blk = b0; blk <= b1; blk++)
        {
            if (f.LastChange(blk) is not { } last)
                continue;
            foreach (var w in f.Watches)
            {
                if (last <= w.At)
                    continue;
                if (!w.Pinned.TryGetValue(blk, out var cur) || cur.Rev != head.RevFor(f, blk, w.At) || !cur.Done.IsCompleted)
                    return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Read side (caller holds Head.Lock, blocks already marked accessed): the pins that must be
    /// acknowledged before blocks [b0, b1] of f are answered (invariant (2)).
    /// </summary>
    public List<Task>? PinsForRead(HeadFile f, long b0, long b1)
    {
        if (f.Watches.Count == 0)
            return null;
        List<Task>? pins = null;
        for (var blk = b0; blk <= b1; blk++)
        {
            if (f.LastChange(blk) is not { } last)
                continue;
            foreach (var w in f.Watches)
            {
                if (last <= w.At)
                    continue;
                var t = EnsurePin(w, blk, head.RevFor(f, blk, w.At));
                if (!t.IsCompleted)
                    (pins ??= []).Add(t);
            }
        }
        return pins;
    }

    /// <summary>
    /// Decides (once) a pin of blk of w to rev (null: back to head), tells the link, and returns its
    /// completion (invariant (4)). Caller holds Head.Lock.
    /// </summary>
    private static Task EnsurePin(Watch w, long blk, Tid? rev)
    {
        if (w.Pinned.TryGetValue(blk, out var cur))
        {
            if (rev is { } r0 && cur.Rev == r0)
                return cur.Done;
        }
        else if (rev is null)
        {
            return Task.CompletedTask;
        }
        // Continuations run on the completing thread (a read waiting for this pin is queued for the
        // pinned readers by the thread that took the ack: LinkPins.cs, ReadAnswerers.cs); completers
        // hold no lock (the link actor, the FUSE write thread).
        var done = new TaskCompletionSource();
        if (rev is { } r)
            w.Pinned[blk] = new PinState(r, done.Task);
        else
            w.Pinned.Remove(blk);
        w.Link.Tell(new WatchLinkProtocol.SendPin(new PinRequest(w.File.Oid, new BlockNumber(blk), rev), done));
        return done.Task;
    }

    private static void AddPending(List<Task> pins, Task t)
    {
        if (!t.IsCompleted)
            pins.Add(t);
    }
}
