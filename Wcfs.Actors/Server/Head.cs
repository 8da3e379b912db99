// Head - the state behind head/: which revision its data shows, the block history of the window,
// the known head files and their watches. All fields are guarded by Head.Lock.
//
// Two revisions (see HeadActor for the order of a commit):
//   DataAt - the revision new reads of head/bigfile/* serve (moves first, in BeginCommit);
//   HeadAt - the revision head/at shows (moves last, after the changed blocks were invalidated).
// History: the change records of (Tail, DataAt], in order, and per file an index block → tids.
// At start it holds the commits of the window before the start (LoadPast: a restarted server knows
// what its predecessor knew of the window).
//
// Invariants:
//   (1) Tail ≤ HeadAt ≤ DataAt; history holds exactly the commits in (Tail, DataAt].
//   (2) A file's per-block index lists, ascending, every tid in (Tail, DataAt] that changed the block.
//   (3) Tail only moves forward, and never past the at of a live watch nor closer to head than the
//       history window (PROTOCOL.md §4.3 rule 2).
//   (4) A read of head/bigfile/F holds F's current ReadGeneration from before it reads DataAt until
//       after it answered the kernel; BeginCommit replaces the generation of every changed file.
//   (5) Head.Lock is the only lock of the control plane; links have none (they are actors), so no
//       link can hold a lock a reader needs. Pins are told to link actors under Head.Lock.
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Server;

/// <summary>Counts the reads of one head file that started against one DataAt.</summary>
internal sealed class ReadGeneration
{
    private int _inFlight;
    private TaskCompletionSource? _drained;
    private bool _closed;
    private readonly object _lock = new();

    public void Enter()
    {
        lock (_lock) _inFlight++;
    }

    public void Exit()
    {
        TaskCompletionSource? done = null;
        lock (_lock)
        {
            if (--_inFlight == 0 && _closed)
                done = _drained;
        }
        done?.TrySetResult();
    }

    /// <summary>
    /// Completes when every read of this generation answered; called once the generation was
    /// replaced (Head.BeginCommit), so no read enters it any more.
    /// </summary>
    public Task Drained
    {
        get
        {
            lock (_lock)
            {
                _closed = true;
                if (_inFlight == 0)
                    return Task.CompletedTask;
                _drained ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _drained.Task;
            }
        }
    }
}

/// <summary>One big file as seen through head/bigfile/&lt;oid&gt;.</summary>
internal sealed class HeadFile(Oid oid, int blockSize, ulong ino, long lastBlock)
{
    public Oid Oid { get; } = oid;
    public int BlockSize { get; } = blockSize;
    public ulong Ino { get; } = ino;
    /// <summary>Highest block ever written as of DataAt (size high-water mark), -1 for none.</summary>
    public long LastBlock { get; set; } = lastBlock;
    public long Size => BlockNumber.FileSize(LastBlock, BlockSize);
    public ReadGeneration Generation { get; set; } = new();
    /// <summary>invariant (2)</summary>
    public Dictionary<long, List<Tid>> BlockHistory { get; } = [];
    /// <summary>Blocks read through head/ (they may sit in the shared cache): watch setup pins only these.</summary>
    public HashSet<long> Accessed { get; } = [];
    public List<Watch> Watches { get; } = [];
    /// <summary>When the file was created, if after the start of the history (Tail) when it was
    /// looked up; null if it existed then. A watch at an older at is refused (issue 12 item 8).</summary>
    public Tid? CreatedAt { get; set; }
    /// <summary>The first commit in the window that wrote the file object (its creation if it is that
    /// recent), or null if the file existed at Tail unchanged.</summary>
    public Tid? FirstWrittenAt { get; set; }

    /// <summary>The last tid in history that changed <paramref name="blk"/>, or null.</summary>
    public Tid? LastChange(long blk) =>
        BlockHistory.TryGetValue(blk, out var l) && l.Count > 0 ? l[^1] : null;

    /// <summary>The last tid ≤ at in history that changed blk, or null if none in (Tail, at].</summary>
    public Tid? LastChangeAtOrBefore(long blk, Tid at)
    {
        if (!BlockHistory.TryGetValue(blk, out var l))
            return null;
        for (var i = l.Count - 1; i >= 0; i--)
            if (l[i] <= at)
                return l[i];
        return null;
    }

    public void Record(Tid tid, long[] blocks)
    {
        foreach (var b in blocks)
        {
            if (!BlockHistory.TryGetValue(b, out var l))
                BlockHistory[b] = l = [];
            l.Add(tid);
            if (b > LastBlock)
                LastBlock = b;
        }
    }

    public void TrimBefore(Tid tail)
    {
        if (FirstWrittenAt <= tail)
            FirstWrittenAt = null;
        List<long>? empty = null;
        foreach (var (b, l) in BlockHistory)
        {
            l.RemoveAll(t => t <= tail);
            if (l.Count == 0)
                (empty ??= []).Add(b);
        }
        if (empty is not null)
            foreach (var b in empty)
                BlockHistory.Remove(b);
    }
}

/// <summary>One (link, file) watch: its at and the blocks pinned on that link. Guarded by Head.Lock.</summary>
internal sealed class Watch(ulong linkId, Akka.Actor.IActorRef link, HeadFile file, Tid at)
{
    public ulong LinkId { get; } = linkId;
    /// <summary>The link's actor: pins are told to it under Head.Lock, so it gets them in decision order.</summary>
    public Akka.Actor.IActorRef Link { get; } = link;
    public HeadFile File { get; } = file;
    public Tid At { get; set; } = at;
    /// <summary>blk → the pin sent for it (rev and completion).</summary>
    public Dictionary<long, PinState> Pinned { get; } = [];
}

/// <summary>A pin sent (or being sent) for a block: its revision and when it is done.</summary>
internal sealed record PinState(Tid Rev, Task Done);

/// <summary>The state behind head/ (see the file comment).</summary>
internal sealed class Head(Tid start, TimeSpan historyWindow)
{
    private readonly List<(ChangeRecord Record, DateTime Seen)> _history = [];
    private readonly List<(Tid At, TaskCompletionSource Done)> _waiters = [];

    public object Lock { get; } = new();
    public Tid DataAt { get; private set; } = start;
    public Tid HeadAt { get; private set; } = start;
    public Tid Tail { get; private set; } = start;
    public Dictionary<Oid, HeadFile> Files { get; } = [];

    /// <summary>
    /// Before any file is registered: the commits of (<paramref name="tail"/>, DataAt] that the
    /// storage already holds become the history (a restarted server knows the window its
    /// predecessor knew; WcfsMount.LoadPastAsync). Each record counts as seen at its tid's commit
    /// time, so the window trims it as if this server had seen it commit.
    /// </summary>
    /// <exception cref="InvalidOperationException">Files are registered, the history is not empty, or a record lies outside (tail, DataAt].</exception>
    public void LoadPast(Tid tail, IReadOnlyList<ChangeRecord> records)
    {
        if (Files.Count != 0 || _history.Count != 0 || tail > DataAt)
            throw new InvalidOperationException("the past is loaded once, before the first file");
        var prev = tail;
        foreach (var rec in records)
        {
            if (rec.Tid <= prev || rec.Tid > DataAt)
                throw new InvalidOperationException($"record @{rec.Tid} is not in order within (@{tail}, @{DataAt}]");
            prev = rec.Tid;
        }
        var now = DateTime.UtcNow;
        foreach (var rec in records)
            _history.Add((rec, TidTime(rec.Tid, now)));
        Tail = tail;
    }

    /// <summary>The commit time of a tid (nanoseconds since the Unix epoch, STORAGE.md §1), at most <paramref name="now"/>.</summary>
    public static DateTime TidTime(Tid tid, DateTime now)
    {
        var ticks = tid.Value / 100;
        var max = (ulong)(now - DateTime.UnixEpoch).Ticks;
        return DateTime.UnixEpoch.AddTicks((long)Math.Min(ticks, max));
    }

    /// <summary>The tid of a moment (nanoseconds since the Unix epoch): commits after it have larger tids.</summary>
    public static Tid TidOf(DateTime time) =>
        time <= DateTime.UnixEpoch ? Tid.Zero : new Tid((ulong)(time - DateTime.UnixEpoch).Ticks * 100);

    /// <summary>Registers a looked-up file (caller holds Lock); its history comes from the window.</summary>
    public HeadFile Register(Oid oid, int blockSize, ulong ino, long lastBlock, bool existedAtTail = true)
    {
        var f = new HeadFile(oid, blockSize, ino, lastBlock);
        foreach (var (rec, _) in _history)
        {
            if (rec.Blocks.TryGetValue(oid, out var blocks))
                f.BlockHistory.Merge(rec.Tid, blocks);
            if (f.FirstWrittenAt is null && rec.Objects.Contains(oid))
                f.FirstWrittenAt = rec.Tid;
        }
        if (!existedAtTail)
            f.CreatedAt = f.FirstWrittenAt;
        Files[oid] = f;
        return f;
    }

    /// <summary>
    /// Commit step 1 (caller holds Lock): new reads serve rec.Tid; returns, per changed known file,
    /// the generation of reads that started before (to wait for) and the changed blocks.
    /// </summary>
    public List<(HeadFile File, ReadGeneration Old, long[] Blocks)> BeginCommit(ChangeRecord rec)
    {
        var changed = new List<(HeadFile, ReadGeneration, long[])>();
        foreach (var (oid, blocks) in rec.Blocks)
        {
            if (!Files.TryGetValue(oid, out var f) || blocks.Length == 0)
                continue;
            f.Record(rec.Tid, blocks);
            var old = f.Generation;
            f.Generation = new ReadGeneration();
            changed.Add((f, old, blocks));
        }
        _history.Add((rec, DateTime.UtcNow));
        DataAt = rec.Tid;
        return changed;
    }

    /// <summary>Commit last step (caller holds Lock): head/at moves; returns the watch setups to wake.</summary>
    public List<TaskCompletionSource> FinishCommit(Tid tid)
    {
        HeadAt = tid;
        var wake = new List<TaskCompletionSource>();
        _waiters.RemoveAll(w =>
        {
            if (w.At > tid) return false;
            wake.Add(w.Done);
            return true;
        });
        return wake;
    }

    /// <summary>A task that completes when HeadAt ≥ at (caller holds Lock).</summary>
    public Task WaitHeadAt(Tid at)
    {
        if (HeadAt >= at)
            return Task.CompletedTask;
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _waiters.Add((at, tcs));
        return tcs.Task;
    }

    /// <summary>The oldest revision head/ may still serve a watcher (caller holds Lock): Tail, or an older watch's at.</summary>
    public Tid OldestNeeded()
    {
        var oldest = Tail;
        foreach (var f in Files.Values)
            foreach (var w in f.Watches)
                if (w.At < oldest)
                    oldest = w.At;
        return oldest;
    }

    /// <summary>Moves Tail forward as far as invariant (3) allows (caller holds Lock).</summary>
    public void Trim(DateTime now)
    {
        var minWatch = Tid.Max;
        foreach (var f in Files.Values)
            foreach (var w in f.Watches)
                if (w.At < minWatch)
                    minWatch = w.At;
        var n = 0;
        while (n < _history.Count - 1 // keep the newest record: Tail stays < head when possible
               && now - _history[n].Seen > historyWindow
               && _history[n].Record.Tid <= minWatch)
            n++;
        if (n == 0)
            return;
        Tail = _history[n - 1].Record.Tid;
        _history.RemoveRange(0, n);
        foreach (var f in Files.Values)
            f.TrimBefore(Tail);
    }

    /// <summary>True if some commit in (at, DataAt] changed blk of f.</summary>
    public static bool ChangedAfter(HeadFile f, long blk, Tid at) => f.LastChange(blk) is { } t && t > at;

    /// <summary>
    /// The revision a watcher at <paramref name="at"/> must see for blk: the last change ≤ at, or if
    /// none in the window, the start of the window: Tail, or the first commit in the window that
    /// wrote the file object if the file did not exist at Tail (the block is unchanged from there to
    /// at, so any such revision shows the same data and watchers share its @rev cache).
    /// </summary>
    public Tid RevFor(HeadFile f, long blk, Tid at) => f.LastChangeAtOrBefore(blk, at) ?? f.FirstWrittenAt ?? Tail;
}

internal static class BlockHistoryExtensions
{
    public static void Merge(this Dictionary<long, List<Tid>> index, Tid tid, long[] blocks)
    {
        foreach (var b in blocks)
        {
            if (!index.TryGetValue(b, out var l))
                index[b] = l = [];
            l.Add(tid);
        }
    }
}
