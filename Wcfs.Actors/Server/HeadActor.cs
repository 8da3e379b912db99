// HeadActor - owns head/: applies the storage's commits strictly in order, invalidates the kernel
// cache (ARCHITECTURE.md facts 4, 5), and sets up watches against the history. It runs on a thread
// of its own (wcfs.server.head-dispatcher, a pinned dispatcher): that thread is the only one that
// sends FUSE notifications. Messages: HeadProtocol.cs. Functional core: Head.cs (history, revisions)
// and WatchRegistry.cs (setup plans and read-side pin decisions), both under Head.Lock.
//
// A commit (PROTOCOL.md §3):
//   1. under Head.Lock: record the change in the history, raise sizes, switch new reads of the
//      changed files to the new revision (Head.BeginCommit: new ReadGenerations);
//   2. wait, without blocking the actor, until the reads of the changed files that started before
//      step 1 were answered (they serve the old revision; the kernel holds their pages locked until
//      then) — the drain is piped back as ReadsDrained, later commits queue meanwhile;
//   3. invalidate exactly the changed blocks of head/bigfile/F in the kernel cache;
//   4. under Head.Lock: head/at moves to the commit, history is trimmed; the watch setups waiting
//      for an at ≤ the new head/at are set up;
//   5. (wcfs.server.prefetch-committed) the changed blocks are queued for CommitPrefetcher, which
//      reads them into the kernel cache through ordinary head/ reads.
// Reads never wait for this actor (they serve DataAt), so steps 2/3 cannot deadlock on page locks;
// watch setups are handled between and during commits (their pins may be what a read in step 2
// waits for).
//
// EIO mode (issue 12 item 7). If step 3 fails (any error but ENOENT, "not cached"), the kernel may
// still hold pages of the old revision under a head/at that says otherwise. The mount then switches
// to EIO mode for good: head/at is not moved past the commit and no later commit is processed;
// every request that reaches the server for head/ (head/at, lookups, opens, reads and getattr of
// head/bigfile/*, opens of head/watch) fails with EIO; @rev files, whose data never changes, keep
// working; .wcfs/stats shows "EIO : 1"; the log says why and that the server must be restarted
// (`wcfs stop`, then a new server starts with an empty cache). Pages a process already has mapped
// or cached stay readable (the kernel serves them without asking) — they are the data as of the
// old head/at, which the frozen head/at keeps describing to anyone who could still read it.
//
// Invariants:
//   (1) Commits are processed one at a time, in the order the storage delivers them.
//   (2) Every notify_* of the server is called on this actor's thread.
//   (3) A setup for an at newer than head/at waits here, in _waiting, and ends with its link
//       (LinkClosed removes it): nothing waits forever for a closed link.
using Akka.Actor;
using Serilog;
using Wcfs.Actors.Protocol;
using Wcfs.Native.Interop;
using static Wcfs.Actors.Server.HeadProtocol;

namespace Wcfs.Actors.Server;

internal sealed class HeadActor : ReceiveActor
{
    private readonly WcfsFileSystem _fs;
    private readonly FuseSessionHandle _session;
    private readonly HeadProtocol.Settings _settings;
    private readonly Queue<Commit> _commits = new();
    private readonly List<(IActorRef Link, SetupWatch Setup)> _waiting = [];
    private bool _committing;

    public HeadActor(WcfsFileSystem fs, FuseSessionHandle session, HeadProtocol.Settings settings)
    {
        _fs = fs;
        _session = session;
        _settings = settings;
        Receive<Commit>(c =>
        {
            _commits.Enqueue(c);
            if (!_committing)
                NextCommit();
        });
        Receive<ReadsDrained>(FinishCommit);
        Receive<SetupWatch>(m => Setup(Sender, m));
        Receive<LinkClosed>(m =>
        {
            lock (_fs.Head.Lock)
                _fs.Watches.DropLink(m.LinkId);
            _waiting.RemoveAll(w => w.Setup.LinkId == m.LinkId); // invariant (3)
            _fs.Stats.SetWatchSetupsWaiting(_waiting.Count);
            Sender.Tell(new WatchLinkProtocol.LinkDropped());
            _settings.Prefetch?.Retry();
        });
        Receive<InvalidateEntry>(m => { FuseNative.NotifyInvalEntry(_session, 1, m.Name); });
    }

    // ---- commits ------------------------------------------------------------------------------------

    private void NextCommit()
    {
        _committing = false;
        if (_fs.EioReason is not null || !_commits.TryDequeue(out var c))
            return;
        _committing = true;
        List<(HeadFile File, ReadGeneration Old, long[] Blocks)> changed;
        lock (_fs.Head.Lock)
            changed = _fs.Head.BeginCommit(c.Record);
        var drained = changed.Count == 0 ? Task.CompletedTask : Task.WhenAll(changed.Select(x => x.Old.Drained));
        var msg = new ReadsDrained(c.Record, c.SeenTimestamp, changed);
        if (drained.IsCompleted)
            FinishCommit(msg);
        else
            drained.PipeTo(Self, success: () => msg, failure: _ => msg);
    }

    private void FinishCommit(ReadsDrained m)
    {
        if (_settings.Invalidation != Invalidation.Off && !Invalidate(m))
            return;
        lock (_fs.Head.Lock)
        {
            _fs.Head.FinishCommit(m.Record.Tid);
            _fs.Head.Trim(DateTime.UtcNow);
        }
        Log.Debug("head/at → {Tid} ({Files} files changed)", m.Record.Tid, m.Changed.Count);
        _settings.Prefetch?.Post([.. m.Changed.Select(c => new CommitPrefetcher.Changed(c.File, c.Blocks, m.Record.Tid))]); // step 5
        RunWaitingSetups(m.Record.Tid);
        NextCommit();
    }

    /// <summary>Step 3; false if it failed and the mount switched to EIO mode.</summary>
    private bool Invalidate(ReadsDrained m)
    {
        foreach (var (f, _, blocks) in m.Changed)
        {
            foreach (var (start, count) in Ranges(blocks))
            {
                var rc = FuseNative.NotifyInvalInode(_session, f.Ino, start * f.BlockSize, count * f.BlockSize);
                if (rc == 0 && _settings.Invalidation == Invalidation.FailForTest)
                    rc = -Errno.EIO;
                if (rc != 0 && rc != -Errno.ENOENT)
                {
                    var why = $"invalidating {f.Oid} blocks [{start}, +{count}) @{m.Record.Tid} in the kernel cache failed: errno {-rc}";
                    Log.Error("{Why}; switching the mount to EIO mode: head/ fails with EIO from now on, head/at stays at @{HeadAt}; restart the server (wcfs stop)",
                        why, _fs.Head.HeadAt);
                    _fs.EnterEio(why);
                    _committing = true; // for good: no later commit is processed
                    return false;
                }
            }
        }
        return true;
    }

    /// <summary>Contiguous runs of the sorted blocks.</summary>
    internal static IEnumerable<(long Start, long Count)> Ranges(long[] blocks)
    {
        var sorted = blocks.Order().ToArray();
        var i = 0;
        while (i < sorted.Length)
        {
            var j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] <= sorted[j] + 1)
                j++;
            yield return (sorted[i], sorted[j] - sorted[i] + 1);
            i = j + 1;
        }
    }

    // ---- watch setup --------------------------------------------------------------------------------

    private void Setup(IActorRef link, SetupWatch m)
    {
        var req = m.Request;
        if (req.At is not { } at)
        {
            lock (_fs.Head.Lock)
                _fs.Watches.Stop(m.LinkId, req.File);
            link.Tell(new WatchLinkProtocol.SetupReply(m.Stream, null, []));
            _settings.Prefetch?.Retry();
            return;
        }
        Storage.Tid headAt;
        lock (_fs.Head.Lock)
            headAt = _fs.Head.HeadAt;
        if (at > headAt)
        {
            // rule 1: an at in the future waits for its commit (invariant (3))
            _waiting.Add((link, m));
            _fs.Stats.SetWatchSetupsWaiting(_waiting.Count);
            return;
        }
        string? error;
        List<Task> pins;
        lock (_fs.Head.Lock)
            pins = _fs.Watches.Setup(m.LinkId, link, req.File, at, out error);
        link.Tell(new WatchLinkProtocol.SetupReply(m.Stream, error is null ? null : WatchLinkGrammar.ErrorReply(error), pins));
        _settings.Prefetch?.Retry(); // a watch moved: blocks pending for it may be readable now
    }

    private void RunWaitingSetups(Storage.Tid headAt)
    {
        if (_waiting.Count == 0)
            return;
        var ready = _waiting.Where(w => w.Setup.Request.At <= headAt).ToList();
        _waiting.RemoveAll(w => w.Setup.Request.At <= headAt);
        _fs.Stats.SetWatchSetupsWaiting(_waiting.Count);
        foreach (var (link, setup) in ready)
            Setup(link, setup);
    }
}
