// SqliteStorage.Checkpoint - WAL checkpoints off the commit path.
//
// Why: with SQLite's automatic checkpoint (1000 pages = 64 MiB of WAL here), the commit that
// crosses the mark copies the WAL into the database file and fsyncs it before it returns. In the
// demo's fill (32 MiB per commit) the storage commit took 107–242 ms per 32 MiB, the slow ones
// carrying a checkpoint (docs/NOTES.md "Data path, third pass"). So pool connections move SQLite's
// automatic checkpoint to 256 MiB of WAL (a backstop: many short-lived committers, each below its
// own mark, still cannot grow the WAL without bound), and each commit adds its bytes to a count of
// this instance; once the count passes
// CheckpointBytes, the commit wakes a background thread that runs a PASSIVE checkpoint on its own
// connection while the committer goes on (PASSIVE never waits for readers or writers; what a
// reader still needs stays in the WAL for the next round). The thread waits on a semaphore, never
// on a timer: a storage that does not commit has no such thread at all (it starts on first need).
// Durability is unchanged: a commit is durable once its WAL frames are fsynced (synchronous=FULL);
// the checkpoint only moves them. When the last connection closes, SQLite checkpoints what is left.
namespace Wcfs.Actors.Storage;

public sealed partial class SqliteStorage
{
    /// <summary>WAL bytes written by commits of this instance after which a checkpoint runs.</summary>
    internal const long CheckpointBytes = 32L << 20;

    private long _uncheckpointedBytes;
    private readonly SemaphoreSlim _checkpointWake = new(0, 1);
    private Thread? _checkpointer;
    private readonly Lock _checkpointerGate = new();

    /// <summary>Checkpoints run by the background thread (tests, diagnostics).</summary>
    internal long CheckpointsRun => Interlocked.Read(ref _checkpointsRun);

    /// <summary>Completes when the background thread finishes its next checkpoint (tests).</summary>
    internal Task NextCheckpoint => Volatile.Read(ref _checkpointDone).Task;

    /// <summary>Whether the background thread was ever started (tests).</summary>
    internal bool CheckpointerStarted
    {
        get
        {
            lock (_checkpointerGate)
                return _checkpointer is not null;
        }
    }

    private long _checkpointsRun;
    private TaskCompletionSource _checkpointDone = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Called after a commit of about <paramref name="bytes"/> bytes became visible.</summary>
    private void CountWalBytes(long bytes)
    {
        if (Interlocked.Add(ref _uncheckpointedBytes, bytes + 4096) < CheckpointBytes || _disposed)
            return;
        lock (_checkpointerGate)
        {
            if (_checkpointer is null && !_disposed)
            {
                _checkpointer = new Thread(CheckpointLoop) { IsBackground = true, Name = "wcfs-sqlite-checkpoint" };
                _checkpointer.Start();
            }
        }
        WakeCheckpointer();
    }

    private void CheckpointLoop()
    {
        using var c = _pool.OpenDedicated();
        while (true)
        {
            _checkpointWake.Wait();
            if (_disposed)
                return;
            Interlocked.Exchange(ref _uncheckpointedBytes, 0);
            try
            {
                c.Execute("PRAGMA wal_checkpoint(PASSIVE)");
                Interlocked.Increment(ref _checkpointsRun);
                Interlocked.Exchange(ref _checkpointDone, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
            }
            catch (Microsoft.Data.Sqlite.SqliteException)
            {
                // Busy or failing: the next commit past the mark tries again; SQLite checkpoints
                // at the last close too. Nothing is lost either way (the frames stay in the WAL).
            }
        }
    }

    /// <summary>
    /// Checkpoints the whole WAL now, waiting for a background checkpoint in progress (busy timeout):
    /// benches settle the database with it before timing reads, as the automatic checkpoint inside
    /// the commit used to leave it.
    /// </summary>
    internal void CheckpointNow() => Use("checkpoint", c => c.Execute("PRAGMA wal_checkpoint(FULL)"));

    /// <summary>Wakes the thread once (a wake already pending is enough).</summary>
    private void WakeCheckpointer()
    {
        try
        {
            _checkpointWake.Release();
        }
        catch (SemaphoreFullException)
        {
            // already woken
        }
    }

    private void StopCheckpointer()
    {
        Thread? t;
        lock (_checkpointerGate)
            t = _checkpointer;
        if (t is null)
            return;
        WakeCheckpointer(); // it sees _disposed
        t.Join(BusyTimeout); // a checkpoint in progress finishes first (bounded by the busy timeout)
    }
}
