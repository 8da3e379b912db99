// PostgresStorage.Changes - change records pushed by LISTEN/NOTIFY, caught up by polling
// (invariant (4) of PostgresStorage.cs).
//
// One unpooled connection per stream:
//   connect → LISTEN wcfs_commit → loop { query commits with tid > cursor; yield them;
//                                         wait for a notification or PollInterval }
// A notification's payload is its tid; the handler keeps the highest seen, so a notification that
// arrives while a query runs is not lost (the loop queries again at once instead of waiting).
// On any connection failure the stream reconnects with backoff for as long as it is enumerated
// and resumes from its cursor: commits made while it was disconnected are found by the query.
using System.Runtime.CompilerServices;
using Npgsql;

namespace Wcfs.Actors.Storage;

public sealed partial class PostgresStorage
{
    /// <summary>At most this many change records are read per query.</summary>
    private const int ChangesBatch = 1000;

    /// <inheritdoc />
    public async IAsyncEnumerable<ChangeRecord> Changes(Tid afterTid, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _disposed.Token);
        var ct = linked.Token;
        var listener = new Listener(this);
        try
        {
            var cursor = afterTid;
            while (true)
            {
                var batch = await listener.FetchAfterAsync(cursor, ct).ConfigureAwait(false);
                foreach (var record in batch)
                {
                    cursor = record.Tid;
                    yield return record;
                }
                if (batch.Count < ChangesBatch)
                    await listener.WaitAsync(cursor, ct).ConfigureAwait(false);
            }
        }
        finally
        {
            await listener.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The LISTEN connection of one Changes stream; reconnects on failure.</summary>
    private sealed class Listener(PostgresStorage storage) : IAsyncDisposable
    {
        private NpgsqlConnection? _conn;
        private long _notified; // highest tid seen in a notification (as bigint)

        /// <summary>The change records after <paramref name="cursor"/> (at most ChangesBatch); reconnects as needed.</summary>
        public async Task<List<ChangeRecord>> FetchAfterAsync(Tid cursor, CancellationToken ct)
        {
            for (var attempt = 0; ; attempt++)
            {
                try
                {
                    var conn = await ConnectedAsync(ct).ConfigureAwait(false);
                    var cmd = new NpgsqlCommand(
                        "SELECT tid, objects, block_oids, block_nums FROM wcfs_commits WHERE tid > $1 ORDER BY tid LIMIT " + ChangesBatch, conn);
                    await using var cmdScope = cmd.ConfigureAwait(false);
                    cmd.Parameters.Add(new() { Value = Db(cursor) });
                    var list = new List<ChangeRecord>();
                    var r = await cmd.ExecuteReaderAsync(ct).ConfigureAwait(false);
                    await using var rScope = r.ConfigureAwait(false);
                    while (await r.ReadAsync(ct).ConfigureAwait(false))
                        list.Add(ToRecord(r.GetInt64(0), r.GetFieldValue<long[]>(1), r.GetFieldValue<long[]>(2), r.GetFieldValue<long[]>(3)));
                    return list;
                }
                catch (Exception e) when (!ct.IsCancellationRequested && IsConnectionFailure(e))
                {
                    await DropAsync().ConfigureAwait(false);
                    await Task.Delay(Backoff(attempt), ct).ConfigureAwait(false);
                }
                catch (PostgresException e)
                {
                    throw new StorageException($"cannot read change records from {storage.Url}: {e.MessageText} (SQLSTATE {e.SqlState})", e);
                }
            }
        }

        /// <summary>Waits until a notification newer than <paramref name="cursor"/> arrived, or PollInterval passed.</summary>
        public async Task WaitAsync(Tid cursor, CancellationToken ct)
        {
            var deadline = DateTime.UtcNow + storage.Options.PollInterval;
            while (Interlocked.Read(ref _notified) <= Db(cursor))
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || _conn is not { } conn)
                    return;
                try
                {
                    if (!await conn.WaitAsync(left, ct).ConfigureAwait(false))
                        return; // timeout: the caller polls, which also probes the connection
                }
                catch (Exception e) when (!ct.IsCancellationRequested && IsConnectionFailure(e))
                {
                    await DropAsync().ConfigureAwait(false);
                    return; // the next fetch reconnects and catches up
                }
            }
        }

        private async Task<NpgsqlConnection> ConnectedAsync(CancellationToken ct)
        {
            if (_conn is { } c)
                return c;
            var conn = new NpgsqlConnection(storage._listenConnectionString);
            try
            {
                conn.Notification += (_, n) =>
                {
                    if (n.Channel == Channel && Tid.TryParse(n.Payload, out var t))
                        InterlockedMax(ref _notified, Db(t));
                };
                await conn.OpenAsync(ct).ConfigureAwait(false);
                var listen = new NpgsqlCommand("LISTEN " + Channel, conn);
                await using (listen.ConfigureAwait(false))
                    await listen.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }
            catch
            {
                await conn.DisposeAsync().ConfigureAwait(false);
                throw;
            }
            _conn = conn;
            return conn;
        }

        private async Task DropAsync()
        {
            var c = _conn;
            _conn = null;
            if (c is not null)
                await c.DisposeAsync().ConfigureAwait(false);
        }

        public ValueTask DisposeAsync() => new(DropAsync());

        private static void InterlockedMax(ref long field, long value)
        {
            var seen = Interlocked.Read(ref field);
            while (value > seen)
            {
                var prev = Interlocked.CompareExchange(ref field, value, seen);
                if (prev == seen)
                    return;
                seen = prev;
            }
        }
    }

    private static ChangeRecord ToRecord(long tid, long[] objects, long[] blockOids, long[] blockNums)
    {
        var blocks = new Dictionary<Oid, long[]>();
        for (var i = 0; i < blockOids.Length;)
        {
            var j = i;
            while (j < blockOids.Length && blockOids[j] == blockOids[i])
                j++;
            blocks[new Oid((ulong)blockOids[i])] = blockNums[i..j];
            i = j;
        }
        return new ChangeRecord(new Tid((ulong)tid), [.. objects.Select(o => new Oid((ulong)o))], blocks);
    }
}
