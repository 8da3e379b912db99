// SqliteStorage.Changes - the change-record stream (IStorage invariant (3)).
//
// Each stream holds its own connection. It reads the txn rows after the last tid it delivered;
// when there are none it waits until PRAGMA data_version of its connection changes (a commit by
// any other connection, in this or another process) or an in-process commit signals, checking
// every PollInterval. data_version is answered from the WAL index in shared memory, so a poll
// costs a few microseconds and no disk I/O. No inotify wake-up: a commit's last -wal write comes
// before its fsync and its visibility (docs/NOTES.md "Storage (issue 2)").
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;

namespace Wcfs.Actors.Storage;

public sealed partial class SqliteStorage
{
    /// <summary>How often an idle stream checks for commits of other processes.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(2);

    private const int ChangesBatch = 256;

    /// <inheritdoc />
    public async IAsyncEnumerable<ChangeRecord> Changes(Tid afterTid, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var c = OpenDedicated();
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
                await Task.WhenAny(wake, Task.Delay(PollInterval, cancellationToken)).ConfigureAwait(false);
                cancellationToken.ThrowIfCancellationRequested();
                ObjectDisposedException.ThrowIf(_disposed, this);
            }
        }
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
