// WatchRegistry - watch setup (PROTOCOL.md §4.3) and lazy pins on access (§4.4) over Head's state.
//
// Invariants:
//   (1) After setup of w at `at` is acknowledged (`ok`), w.Pinned holds exactly the accessed
//       blocks of F that changed in (at, DataAt], each at Head.RevFor(F, blk, at); so the pinned set
//       after any increasing sequence of setups equals that of a fresh watch at the final at.
//   (2) A read of blocks B of F through head is answered only after every watch w of F with
//       w.At older than some b's last change got its pin for b (or its client was killed).
//   (3) Both setup and the read-side pin decision happen under Head.Lock, after the read marked its
//       blocks accessed and after the setup registered its watch: a concurrent read and setup
//       cannot both miss a block.
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Server;

internal sealed class WatchRegistry(Head head)
{
    private readonly HashSet<WatchLink> _links = [];

    public void AddLink(WatchLink link)
    {
        lock (head.Lock)
            _links.Add(link);
    }

    public (int Links, int Watches, int Pinned) Counts()
    {
        WatchLink[] links;
        var watches = 0;
        lock (head.Lock)
        {
            links = [.. _links];
            foreach (var l in links)
                watches += l.Watches.Count;
        }
        var pinned = 0;
        foreach (var l in links)
            pinned += l.PinnedCount();
        return (links.Length, watches, pinned);
    }

    /// <summary>Handles one watch request; returns the reply text (ok or error ...).</summary>
    public async Task<string> SetupAsync(WatchLink link, WatchRequest req)
    {
        if (req.At is not { } at)
        {
            lock (head.Lock)
            {
                if (link.Watches.Remove(req.File, out var w))
                    w.File.Watches.Remove(w);
            }
            return "ok";
        }
        Task waitHead;
        lock (head.Lock)
            waitHead = head.WaitHeadAt(at); // rule 1: an at in the future waits for its commit
        await waitHead.ConfigureAwait(false);

        List<Task> pins = [];
        lock (head.Lock)
        {
            // Shutdown marks the link closed before it drops the link's watches under Head.Lock:
            // checking here keeps a closed link from getting a watch nobody would drop.
            if (link.IsClosed)
                return "error link closed";
            if (at < head.Tail)
                return WatchLinkGrammar.ErrorReply(WatchLinkGrammar.TooFarBack(req.File, at, head.HeadAt, head.Tail));
            if (!head.Files.TryGetValue(req.File, out var f))
                return WatchLinkGrammar.ErrorReply(WatchLinkGrammar.UnknownFile(req.File, at));
            if (link.Watches.TryGetValue(req.File, out var w))
            {
                if (at < w.At)
                    return WatchLinkGrammar.ErrorReply(WatchLinkGrammar.GoingBack(req.File, at, w.At));
                w.At = at;
            }
            else
            {
                w = new Watch(link, f, at);
                link.Watches[req.File] = w;
                f.Watches.Add(w);
            }
            // invariant (1): pin what needs it, unpin what no longer does.
            var needed = new HashSet<long>();
            foreach (var blk in f.Accessed)
            {
                if (!Head.ChangedAfter(f, blk, at))
                    continue;
                needed.Add(blk);
                pins.Add(link.EnsurePin(w, blk, head.RevFor(f, blk, at)));
            }
            long[] pinnedNow;
            lock (link.Lock)
                pinnedNow = [.. w.Pinned.Keys];
            foreach (var blk in pinnedNow)
                if (!needed.Contains(blk))
                    pins.Add(link.EnsurePin(w, blk, null));
        }
        await Task.WhenAll(pins).ConfigureAwait(false);
        return "ok";
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
                var t = w.Link.EnsurePin(w, blk, head.RevFor(f, blk, w.At));
                if (!t.IsCompleted)
                    (pins ??= []).Add(t);
            }
        }
        return pins;
    }

    /// <summary>Drops every watch of a closed link.</summary>
    public void DropLink(WatchLink link)
    {
        lock (head.Lock)
        {
            _links.Remove(link);
            foreach (var w in link.Watches.Values)
                w.File.Watches.Remove(w);
            link.Watches.Clear();
        }
    }
}
