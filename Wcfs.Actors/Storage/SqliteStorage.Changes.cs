// SqliteStorage.Changes - the change-record stream (IStorage invariant (3)) and how streams learn
// of commits without polling.
//
// Each stream holds its own connection. It reads the txn rows after the last tid it delivered;
// when there are none it waits for a wake-up, then compares PRAGMA data_version (answered from the
// WAL index in shared memory: a few microseconds, no disk I/O) and reads again if it moved.
// Wake-ups:
//   - an in-process commit signals at once;
//   - a commit by another process: every SqliteStorage.Commit touches the notification file
//     "<db>-commits" after its COMMIT returned, i.e. after the commit is visible to new read
//     transactions; streams watch the database's directory with inotify (DirectoryEvents,
//     IN_ATTRIB of that name) and wake. Touching after visibility is what makes one wake-up enough:
//     inotify on the -wal file would fire on the WAL write, before the commit is visible
//     (docs/NOTES.md "Storage (issue 2)"), and need re-checks for an unbounded time;
//   - a safety check every SafetyPoll, for committers that do not touch the file (another SQLite
//     client writing the file directly; then head moves within SafetyPoll) and for a lost event.
// An idle stream thus costs one data_version check per second (docs/NOTES.md "Data path").
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Wcfs.Actors.Storage;

public sealed partial class SqliteStorage
{
    /// <summary>How often an idle stream checks for commits it was not told about (see the file comment).</summary>
    internal TimeSpan SafetyPoll { get; set; } = TimeSpan.FromSeconds(1);

    private readonly Lock _eventsGate = new();
    private DirectoryEvents? _commitEvents;

    /// <summary>The file committers touch after each commit (see the file comment).</summary>
    internal string NotifyPath => Path + "-commits";

    private const int ChangesBatch = 256;

    /// <inheritdoc />
    public async IAsyncEnumerable<ChangeRecord> Changes(Tid afterTid, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var c = OpenDedicated();
        WatchCommits();
        var last = afterTid;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var wake = Volatile.Read(ref _commitSignal).Task;
            var version = DataVersion(c);
            var batch = ReadChanges(c, last);
            foreach (var record in batch)
            {
                yield return record;
                last = record.Tid;
            }
            if (batch.Count > 0)
                continue;
            while (!wake.IsCompleted && DataVersion(c) == version)
            {
                await Task.WhenAny(wake, Task.Delay(SafetyPoll, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_disposed, this);
            }
        }
    }

    /// <summary>Starts watching the notification file (once per storage; streams share it).</summary>
    private void WatchCommits()
    {
        lock (_eventsGate)
        {
            if (_commitEvents is not null || _disposed)
                return;
            var dir = System.IO.Path.GetDirectoryName(Path)!;
            var name = System.IO.Path.GetFileName(NotifyPath);
            _commitEvents = DirectoryEvents.TryWatch(dir, DirectoryEvents.Attrib | DirectoryEvents.CloseWrite | DirectoryEvents.MovedTo,
                (entry, _) =>
                {
                    if (entry == name)
                        Interlocked.Exchange(ref _commitSignal, NewSignal()).TrySetResult();
                });
        }
    }

    /// <summary>
    /// Tells streams of other processes that a commit is visible (after COMMIT returned). A failure
    /// (read-only directory, file removed) only delays them to their safety poll.
    /// </summary>
    private void TouchNotifyFile()
    {
        try
        {
            if (!File.Exists(NotifyPath))
                File.WriteAllBytes(NotifyPath, []);
            File.SetLastWriteTimeUtc(NotifyPath, DateTime.UtcNow);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // why: best effort; streams still see the commit at their next safety poll.
        }
    }

    private void StopWatchingCommits()
    {
        DirectoryEvents? events;
        lock (_eventsGate)
        {
            events = _commitEvents;
            _commitEvents = null;
        }
        events?.Dispose();
    }

    private PooledSqliteConnection OpenDedicated()
    {
        try
        {
            return _pool.OpenDedicated();
        }
        catch (SqliteException e)
        {
            throw new StorageException($"cannot open {Path}: {e.Message}", e);
        }
    }

    private long DataVersion(PooledSqliteConnection c)
    {
        try
        {
            return (long)c.Command("PRAGMA data_version").ExecuteScalar()!;
        }
        catch (SqliteException e)
        {
            throw new StorageException($"{Path}: polling for commits failed: {e.Message}", e);
        }
    }

    private List<ChangeRecord> ReadChanges(PooledSqliteConnection c, Tid after)
    {
        try
        {
            var cmd = c.Command($"SELECT tid, changes FROM txn WHERE tid > $a ORDER BY tid LIMIT {ChangesBatch}", "$a");
            cmd.Parameters[0].Value = Db(after);
            var list = new List<ChangeRecord>();
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var tid = FromDb(r.GetInt64(0));
                list.Add(ChangeRecordCodec.Decode(tid, (byte[])r.GetValue(1)));
            }
            return list;
        }
        catch (SqliteException e)
        {
            throw new StorageException($"{Path}: reading change records failed: {e.Message}", e);
        }
    }
}
