// CommitProcessor - applies the storage's commits to head/, strictly in order, on one dedicated
// thread that is also the only thread sending FUSE notifications (ARCHITECTURE.md facts 4, 5).
//
// For each change record (PROTOCOL.md §3):
//   1. under Head.Lock: record the change in the history, raise sizes, switch new reads of the
//      changed files to the new revision (Head.BeginCommit: new ReadGenerations);
//   2. wait until the reads of the changed files that started before step 1 were answered (they
//      serve the old revision; the kernel holds their pages locked until then);
//   3. invalidate exactly the changed blocks of head/bigfile/F in the kernel cache;
//   4. under Head.Lock: head/at moves to the commit; watch setups waiting for it wake up.
// Reads never wait for this thread (they serve DataAt), so step 2/3 cannot deadlock on page locks.
//
// Invariants:
//   (1) Records are processed one at a time, in the order the storage delivers them.
//   (2) Every notify_* of the server is called from this thread.
//   (3) A failing change stream (storage gone) is reported once through onFailure.
using System.Collections.Concurrent;
using System.Diagnostics;
using Serilog;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal sealed class CommitProcessor : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;
    private readonly WcfsFileSystem _fs;
    private readonly FuseSessionHandle _session;
    private readonly CancellationTokenSource _cts = new();
    private readonly List<double> _latenciesUs = [];

    public CommitProcessor(WcfsFileSystem fs, FuseSessionHandle session)
    {
        _fs = fs;
        _session = session;
        _thread = new Thread(Run) { Name = "wcfs-commit", IsBackground = true };
    }

    /// <summary>Set to false to skip step 3 (only for the twin test that proves invalidation matters).</summary>
    public bool InvalidateEnabled { get; init; } = true;

    public void Start(Tid after, Action<Exception> onFailure)
    {
        _thread.Start();
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var rec in _fs.Storage.Changes(after, _cts.Token).ConfigureAwait(false))
                {
                    var seen = Stopwatch.GetTimestamp();
                    _work.Add(() => Process(rec, seen));
                }
            }
            catch (OperationCanceledException) when (_cts.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                onFailure(e);
            }
        });
    }

    /// <summary>Runs an action (e.g. a dentry invalidation) on the notify thread.</summary>
    public void Post(Action action)
    {
        if (!_work.IsAddingCompleted)
            _work.Add(action);
    }

    private void Run()
    {
        foreach (var a in _work.GetConsumingEnumerable())
        {
            try { a(); }
            catch (Exception e) { Log.Error(e, "commit processing step failed"); }
        }
    }

    private void Process(ChangeRecord rec, long seen)
    {
        List<(HeadFile File, ReadGeneration Old, long[] Blocks)> changed;
        lock (_fs.Head.Lock)
            changed = _fs.Head.BeginCommit(rec);
        foreach (var (f, old, blocks) in changed)
        {
            old.WaitDrained();
            if (!InvalidateEnabled)
                continue;
            foreach (var (start, count) in Ranges(blocks))
            {
                var rc = FuseNative.NotifyInvalInode(_session, f.Ino, start * f.BlockSize, count * f.BlockSize);
                if (rc != 0 && rc != -Errno.ENOENT)
                    Log.Error("invalidate {Oid} blocks [{Start}, +{Count}) @{Tid} failed: errno {Errno}", f.Oid, start, count, rec.Tid, -rc);
            }
        }
        List<TaskCompletionSource> wake;
        lock (_fs.Head.Lock)
        {
            wake = _fs.Head.FinishCommit(rec.Tid);
            _fs.Head.Trim(DateTime.UtcNow);
        }
        foreach (var w in wake)
            w.TrySetResult();
        lock (_latenciesUs)
            if (_latenciesUs.Count < 100_000)
                _latenciesUs.Add(Stopwatch.GetElapsedTime(seen).TotalMicroseconds);
        Log.Debug("head/at → {Tid} ({Files} files changed)", rec.Tid, changed.Count);
    }

    /// <summary>Contiguous runs of the sorted blocks.</summary>
    private static IEnumerable<(long Start, long Count)> Ranges(long[] blocks)
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

    public void Dispose()
    {
        _cts.Cancel();
        _work.CompleteAdding();
        if (_thread.IsAlive && Thread.CurrentThread != _thread)
            _thread.Join(TimeSpan.FromSeconds(5));
    }
}
