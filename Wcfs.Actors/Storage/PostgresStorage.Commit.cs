// PostgresStorage.Commit - the commit transaction and its in-doubt resolution (invariants (1)-(3)
// of PostgresStorage.cs).
using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace Wcfs.Actors.Storage;

public sealed partial class PostgresStorage
{
    /// <summary>How long the in-doubt check waits for the old backend to exit after terminating it.</summary>
    private const int TerminateWaitMs = 10_000;

    /// <summary>
    /// Commits with at most this many bytes of changed chunks send them inside the final statement
    /// batch (one round trip less); bigger ones stream them with binary COPY (no 1 GiB message
    /// limit, no copy).
    /// </summary>
    private const long InlineBlockBytes = 1 << 20;

    /// <inheritdoc />
    public Tid Commit(Tid baseAt, IReadOnlyList<ObjectWrite> objects, IReadOnlyList<BlockWrite> blocks)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var plan = CommitPlan.Prepare(objects, blocks);
        var token = Guid.NewGuid();
        var elapsed = Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            int? backend = null; // pid of the backend running our transaction, once connected
            try
            {
                using var conn = _pool.OpenConnection();
                backend = conn.ProcessID;
                return CommitOnce(conn, baseAt, plan, token);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                _pool.Clear();
                // Invariant (3): the transaction may have committed before the connection broke.
                if (backend is { } pid && ResolveInDoubt(token, pid, e, elapsed) is { } landed)
                    return landed;
                if (Innermost(e) is TimeoutException)
                    throw new StorageException(
                        $"commit failed: no answer from {Url} within the commit timeout {Options.CommitTimeout} ({Innermost(e).Message}); nothing was written", e);
                if (elapsed.Elapsed >= Options.ReconnectTimeout || _disposed.IsCancellationRequested)
                    throw new StorageException(
                        $"commit failed: no working connection to {Url} for {elapsed.Elapsed.TotalSeconds:F0}s (last error: {Innermost(e).Message}); nothing was written", e);
                Thread.Sleep(Backoff(attempt));
            }
            catch (PostgresException e)
            {
                throw new StorageException($"commit failed in {Url}: {e.MessageText} (SQLSTATE {e.SqlState}); nothing was written", e);
            }
        }
    }

    /// <summary>Finds whether the commit with <paramref name="token"/> exists; a tid if so.</summary>
    internal Tid? FindCommit(Guid token) => Run("look up a commit token", conn =>
    {
        using var cmd = new NpgsqlCommand("SELECT tid FROM wcfs_commits WHERE token = $1", conn);
        cmd.Parameters.Add(new() { Value = token });
        return cmd.ExecuteScalar() is long t ? new Tid((ulong)t) : (Tid?)null;
    });

    private Tid CommitOnce(NpgsqlConnection conn, Tid baseAt, CommitPlan plan, Guid token)
    {
        using var tx = conn.BeginTransaction();
        var (last, now, blockSizes, previous) = LockAndCheck(conn, tx, baseAt, plan, Options.CommitTimeout);
        var tid = Math.Max(last + 1, now); // invariant (1): strictly increasing even if the clock steps back
        var chunks = ChangedChunks(plan, blockSizes, previous);
        var chunkBytes = chunks.Sum(c => (long)c.Data.Length);
        var copyChunks = chunkBytes > InlineBlockBytes;
        if (copyChunks)
        {
            using var copy = conn.BeginBinaryImport("COPY wcfs_chunks (oid, blk, chunk, tid, data, off, depth, hash) FROM STDIN (FORMAT BINARY)");
            copy.Timeout = Options.CommitTimeout;
            foreach (var c in chunks)
            {
                copy.StartRow();
                copy.Write(c.Oid, NpgsqlDbType.Bigint);
                copy.Write(c.Blk, NpgsqlDbType.Bigint);
                copy.Write(c.Chunk, NpgsqlDbType.Integer);
                copy.Write(tid, NpgsqlDbType.Bigint);
                if (c.Data.IsEmpty)
                    copy.WriteNull();
                else
                    copy.Write(c.Data, NpgsqlDbType.Bytea);
                if (c.Off is { } off)
                    copy.Write(off, NpgsqlDbType.Integer);
                else
                    copy.WriteNull();
                copy.Write(c.Depth, NpgsqlDbType.Integer);
                if (c.Hash is null)
                    copy.WriteNull();
                else
                    copy.Write(c.Hash, NpgsqlDbType.Bytea);
            }
            copy.Complete();
        }

        using var batch = new NpgsqlBatch(conn, tx);
        if (plan.Objects.Count > 0)
            batch.BatchCommands.Add(Command(
                "INSERT INTO wcfs_objects (oid, tid, kind, data) SELECT unnest($1::bigint[]), $2, unnest($3::smallint[]), unnest($4::bytea[])",
                plan.Objects.Select(o => (long)o.Oid.Value).ToArray(), tid,
                plan.Objects.Select(o => (short)o.Kind).ToArray(),
                new NpgsqlParameter { Value = plan.Objects.Select(o => o.Data).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea }));
        if (plan.Blocks.Count > 0)
            batch.BatchCommands.Add(Command(
                "INSERT INTO wcfs_blocks (oid, blk, tid) SELECT unnest($1::bigint[]), unnest($2::bigint[]), $3",
                plan.ChangedBlockOids, plan.ChangedBlockNums, tid));
        if (!copyChunks && chunks.Count > 0)
            batch.BatchCommands.Add(Command(
                "INSERT INTO wcfs_chunks (oid, blk, chunk, tid, data, off, depth, hash) " +
                "SELECT unnest($1::bigint[]), unnest($2::bigint[]), unnest($3::int[]), $4, unnest($5::bytea[]), unnest($6::int[]), unnest($7::int[]), unnest($8::bytea[])",
                chunks.Select(c => c.Oid).ToArray(), chunks.Select(c => c.Blk).ToArray(), chunks.Select(c => c.Chunk).ToArray(), tid,
                new NpgsqlParameter { Value = chunks.Select(c => c.Data.IsEmpty ? null : c.Data.ToArray()).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea },
                new NpgsqlParameter { Value = chunks.Select(c => c.Off).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer },
                chunks.Select(c => c.Depth).ToArray(),
                new NpgsqlParameter { Value = chunks.Select(c => c.Hash).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bytea }));
        batch.BatchCommands.Add(Command(
            "INSERT INTO wcfs_commits (tid, token, objects, block_oids, block_nums) VALUES ($1, $2, $3, $4, $5)",
            tid, token, plan.ChangedObjects, plan.ChangedBlockOids, plan.ChangedBlockNums));
        batch.BatchCommands.Add(Command("UPDATE wcfs_head SET last_tid = $1 WHERE id = 1", tid));
        batch.BatchCommands.Add(Command($"SELECT pg_notify('{Channel}', $1)", new Tid((ulong)tid).ToString()));
        batch.Timeout = (int)Options.CommitTimeout.TotalSeconds;
        batch.ExecuteNonQuery();

        BeforeCommitHook?.Invoke();
        tx.Commit();
        return new Tid((ulong)tid);
    }

    /// <summary>The newest stored version of a chunk: its content's SHA-256 (null: a hole), length and delta depth.</summary>
    private readonly record struct PreviousChunk(byte[]? Hash, int Length, int Depth);

    /// <summary>A chunk row to insert: whole (Off null, Hash null; Data empty = hole) or an append delta with its content's hash.</summary>
    private readonly record struct ChunkRow(long Oid, long Blk, int Chunk, ReadOnlyMemory<byte> Data, int? Off, int Depth, byte[]? Hash);

    /// <summary>
    /// The chunk rows of a commit (BlockChunks.cs): per written block and chunk position, the
    /// chunk's trimmed bytes (empty = hole chunk) if they differ from its newest stored version,
    /// compared by SHA-256 (no old data crosses the wire); a position with no stored version is
    /// written only if it is not all zeros. A chunk that only grew (its first Length bytes hash to
    /// the stored version's hash) is stored as an append delta under the rules of ChunkDeltas.cs
    /// (depth, at most half the new content); every other change is stored whole.
    /// </summary>
    private List<ChunkRow> ChangedChunks(CommitPlan plan, Dictionary<Oid, int> blockSizes, Dictionary<(long, long, int), PreviousChunk> previous)
    {
        var rows = new List<ChunkRow>();
        Span<byte> prefix = stackalloc byte[32];
        foreach (var (oid, blk, data, _) in plan.Blocks)
        {
            var blockSize = blockSizes[oid];
            var chunk = BlockChunks.For(_chunkSize, blockSize);
            var bytes = data ?? ReadOnlyMemory<byte>.Empty;
            for (var k = 0; k < blockSize / chunk; k++)
            {
                var from = Math.Min((long)k * chunk, bytes.Length);
                var slice = bytes.Slice((int)from, (int)Math.Min(chunk, bytes.Length - from));
                slice = slice[..BlockChunks.Trim(slice.Span).Length];
                if (previous.TryGetValue(((long)oid.Value, blk, k), out var before))
                {
                    // Hashed only against an earlier version (new blocks cost no hashing); a whole
                    // row stores no hash: its content is its data (LockAndCheck hashes that).
                    var hash = slice.IsEmpty ? null : System.Security.Cryptography.SHA256.HashData(slice.Span);
                    if (hash is null ? before.Hash is null : before.Hash is not null && hash.AsSpan().SequenceEqual(before.Hash))
                        continue;
                    if (hash is not null && before.Hash is not null && before.Length > 0 && slice.Length > before.Length &&
                        before.Depth < ChunkDeltas.MaxDepth && 2L * (slice.Length - before.Length) <= slice.Length)
                    {
                        System.Security.Cryptography.SHA256.HashData(slice.Span[..before.Length], prefix);
                        if (prefix.SequenceEqual(before.Hash))
                        {
                            rows.Add(new((long)oid.Value, blk, k, slice[before.Length..], before.Length, before.Depth + 1, hash));
                            continue;
                        }
                    }
                }
                else if (slice.IsEmpty)
                {
                    continue;
                }
                rows.Add(new((long)oid.Value, blk, k, slice, null, 0, null));
            }
        }
        return rows;
    }

    /// <summary>
    /// One round trip: takes the head row lock, then validates the commit against the database as
    /// it is under the lock (as SqliteStorage does: base not in the future, oids allocated, blocks
    /// only of files and within their block size, block sizes never change) and throws
    /// ConflictException for the first written object or block with a version after
    /// <paramref name="baseAt"/>. Returns the last tid, the database clock in ns, the block size of
    /// every written file, and the SHA-256, length and depth of the newest stored version of every
    /// chunk of the written blocks (hash null for a hole chunk).
    /// </summary>
    private static (long Last, long Now, Dictionary<Oid, int> BlockSizes, Dictionary<(long, long, int), PreviousChunk> Previous) LockAndCheck(NpgsqlConnection conn, NpgsqlTransaction tx, Tid baseAt, CommitPlan plan, TimeSpan timeout)
    {
        var involved = plan.ChangedObjects.Concat(plan.ChangedBlockOids).Distinct().ToArray();
        // The lock may be held by another writer's big commit: wait as long as a commit may take.
        using var batch = new NpgsqlBatch(conn, tx) { Timeout = (int)timeout.TotalSeconds };
        // The statements run in order: everything after the first sees the database under the lock.
        batch.BatchCommands.Add(Command("SELECT last_tid FROM wcfs_head WHERE id = 1 FOR UPDATE"));
        batch.BatchCommands.Add(Command("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint * 1000"));
        batch.BatchCommands.Add(Command("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM wcfs_oid_seq"));
        batch.BatchCommands.Add(Command(
            "SELECT DISTINCT ON (oid) oid, tid, kind, data FROM wcfs_objects WHERE oid = ANY($1) ORDER BY oid, tid DESC", involved));
        batch.BatchCommands.Add(Command(
            "SELECT b.oid, b.blk, max(b.tid) FROM wcfs_blocks b JOIN unnest($1::bigint[], $2::bigint[]) AS w(oid, blk) " +
            "ON b.oid = w.oid AND b.blk = w.blk WHERE b.tid > $3 GROUP BY b.oid, b.blk ORDER BY 1, 2 LIMIT 1",
            plan.ChangedBlockOids, plan.ChangedBlockNums, Db(baseAt)));
        // The subquery picks the rows first, so only the newest version of each chunk is hashed (a
        // row of schema 3 carries its content's hash; a row of schema 2 is whole: its data's).
        batch.BatchCommands.Add(Command(
            "SELECT oid, blk, chunk, coalesce(hash, sha256(data)), coalesce(off, 0) + coalesce(octet_length(data), 0), depth " +
            "FROM (SELECT DISTINCT ON (c.oid, c.blk, c.chunk) c.oid, c.blk, c.chunk, c.data, c.off, c.depth, c.hash " +
            "FROM wcfs_chunks c JOIN unnest($1::bigint[], $2::bigint[]) AS w(oid, blk) ON c.oid = w.oid AND c.blk = w.blk " +
            "ORDER BY c.oid, c.blk, c.chunk, c.tid DESC) v",
            plan.ChangedBlockOids, plan.ChangedBlockNums));
        using var r = batch.ExecuteReader();
        r.Read();
        var last = r.GetInt64(0);
        if (baseAt.Value > (ulong)last)
            throw new ArgumentException($"commit base {baseAt} is after the last commit {new Tid((ulong)last)}", nameof(baseAt));
        r.NextResult();
        r.Read();
        var now = r.GetInt64(0);
        r.NextResult();
        r.Read();
        var maxOid = r.GetInt64(0);
        r.NextResult();
        var current = new Dictionary<Oid, (Tid Tid, ObjectState? State)>();
        while (r.Read())
        {
            var oid = new Oid((ulong)r.GetInt64(0));
            current[oid] = (new Tid((ulong)r.GetInt64(1)), r.IsDBNull(3) ? null : ObjectCodec.Decode(oid, (byte)r.GetInt16(2), r.GetFieldValue<byte[]>(3)));
        }

        var blockSizes = new Dictionary<Oid, int>();
        foreach (var (oid, _, _, state) in plan.Objects)
        {
            if (oid != Oid.Root && (long)oid.Value > maxOid)
                throw new ArgumentException($"object {oid} was never allocated (use NewOid)", "objects");
            if (current.TryGetValue(oid, out var cur) && cur.Tid > baseAt)
                throw new ConflictException(oid, null, baseAt, cur.Tid);
            if (state is ZBigFileState f && cur.State is ZBigFileState old && old.BlockSize != f.BlockSize)
                throw new ArgumentException($"file {oid}: the block size never changes ({old.BlockSize} → {f.BlockSize})", "objects");
            blockSizes[oid] = state is ZBigFileState file ? file.BlockSize : 0;
        }
        foreach (var (oid, blk, _, length) in plan.Blocks)
        {
            if (!blockSizes.TryGetValue(oid, out var blockSize))
                blockSizes[oid] = blockSize = current.TryGetValue(oid, out var cur) && cur.State is ZBigFileState f ? f.BlockSize : 0;
            if (blockSize == 0)
                throw new ArgumentException($"cannot write block {blk} of {oid}: it is not a ZBigFile", "blocks");
            if (BlockNumber.CheckInFile(blk, blockSize) is { } bad)
                throw new ArgumentException($"file {oid}: {bad}", "blocks");
            if (length > blockSize)
                throw new ArgumentException($"data for block {blk} of {oid} is {length} bytes, longer than the block size {blockSize}", "blocks");
        }

        r.NextResult();
        if (r.Read())
            throw new ConflictException(new Oid((ulong)r.GetInt64(0)), r.GetInt64(1), baseAt, new Tid((ulong)r.GetInt64(2)));
        r.NextResult();
        var previous = new Dictionary<(long, long, int), PreviousChunk>();
        while (r.Read())
            previous[(r.GetInt64(0), r.GetInt64(1), r.GetInt32(2))] =
                new(r.IsDBNull(3) ? null : r.GetFieldValue<byte[]>(3), r.GetInt32(4), r.GetInt32(5));
        return (last, now, blockSizes, previous);
    }

    /// <summary>
    /// After the connection broke during a commit: reconnects, terminates the old backend (waiting
    /// for it to exit, so its transaction is final), then looks the token up. Returns the tid if the
    /// commit landed, null if it did not. Throws StorageException when the answer cannot be had
    /// within ReconnectTimeout.
    /// </summary>
    private Tid? ResolveInDoubt(Guid token, int pid, Exception cause, Stopwatch elapsed)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var conn = _pool.OpenConnection();
                using var batch = new NpgsqlBatch(conn);
                // The pid guard (same user and database, not us) keeps a recycled pid of someone else safe.
                batch.BatchCommands.Add(Command(
                    $"SELECT bool_and(pg_terminate_backend(pid, {TerminateWaitMs})) FROM pg_stat_activity " +
                    "WHERE pid = $1 AND pid <> pg_backend_pid() AND usename = current_user AND datname = current_database()", pid));
                batch.BatchCommands.Add(Command("SELECT tid FROM wcfs_commits WHERE token = $1", token));
                using var r = batch.ExecuteReader();
                r.Read();
                var gone = r.IsDBNull(0) || r.GetBoolean(0);
                r.NextResult();
                var tid = r.Read() ? new Tid((ulong)r.GetInt64(0)) : (Tid?)null;
                if (gone || tid is not null)
                    return tid;
                // The old backend did not exit in time: its transaction may still commit; ask again.
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                _pool.Clear();
            }
            catch (PostgresException e)
            {
                throw OutcomeUnknown(token, cause, e.MessageText);
            }
            if (elapsed.Elapsed >= Options.ReconnectTimeout || _disposed.IsCancellationRequested)
                throw OutcomeUnknown(token, cause, $"no working connection to {Url} for {elapsed.Elapsed.TotalSeconds:F0}s");
            Thread.Sleep(Backoff(attempt));
        }
    }

    private StorageException OutcomeUnknown(Guid token, Exception cause, string why) => new(
        $"commit outcome unknown: the connection to {Url} broke during the commit ({Innermost(cause).Message}) " +
        $"and it could not be checked ({why}); commit token {token} in table wcfs_commits tells whether it landed", cause);

    private static NpgsqlBatchCommand Command(string sql, params object[] args)
    {
        var c = new NpgsqlBatchCommand(sql);
        foreach (var a in args)
            c.Parameters.Add(a as NpgsqlParameter ?? new NpgsqlParameter { Value = a });
        return c;
    }

    /// <summary>A commit's writes, validated and encoded before the transaction starts.</summary>
    private sealed record CommitPlan(
        IReadOnlyList<(Oid Oid, byte Kind, byte[]? Data, ObjectState? State)> Objects,
        IReadOnlyList<(Oid Oid, long Blk, ReadOnlyMemory<byte>? Data, int Length)> Blocks,
        long[] ChangedObjects, long[] ChangedBlockOids, long[] ChangedBlockNums)
    {
        public static CommitPlan Prepare(IReadOnlyList<ObjectWrite> objects, IReadOnlyList<BlockWrite> blocks)
        {
            var seenObjects = new HashSet<Oid>();
            ArgumentNullException.ThrowIfNull(objects);
            ArgumentNullException.ThrowIfNull(blocks);
            var objs = new List<(Oid, byte, byte[]?, ObjectState?)>(objects.Count);
            foreach (var w in objects)
            {
                if (!seenObjects.Add(w.Oid))
                    throw new ArgumentException($"object {w.Oid} is written twice in one commit", nameof(objects));
                if (w.Oid == Oid.Root ? w.State is not RootState : w.State is RootState)
                    throw new ArgumentException($"object {w.Oid}: only oid 0 holds the root, and it holds nothing else (and is never deleted)", nameof(objects));
                if (w.State is null)
                    objs.Add((w.Oid, 0, null, null));
                else
                {
                    var (kind, data) = ObjectCodec.Encode(w.State);
                    objs.Add((w.Oid, kind, data, w.State));
                }
            }
            var seenBlocks = new HashSet<(Oid, long)>();
            var blks = new List<(Oid, long, ReadOnlyMemory<byte>?, int)>(blocks.Count);
            foreach (var w in blocks)
            {
                if (w.Blk < 0)
                    throw new ArgumentException($"invalid block number {w.Blk} of {w.Oid}: must be ≥ 0", nameof(blocks));
                if (!seenBlocks.Add((w.Oid, w.Blk)))
                    throw new ArgumentException($"block {w.Blk} of {w.Oid} is written twice in one commit", nameof(blocks));
                blks.Add((w.Oid, w.Blk, TrimTrailingZeros(w.Data), w.Data?.Length ?? 0));
            }
            blks.Sort((a, b) => a.Item1 != b.Item1 ? a.Item1.CompareTo(b.Item1) : a.Item2.CompareTo(b.Item2));
            return new CommitPlan(objs, blks,
                [.. objs.Select(o => (long)o.Item1.Value).Order()],
                [.. blks.Select(b => (long)b.Item1.Value)],
                [.. blks.Select(b => b.Item2)]);
        }

        /// <summary>Trailing zeros are not stored; an all-zero block is a hole (null).</summary>
        private static ReadOnlyMemory<byte>? TrimTrailingZeros(ReadOnlyMemory<byte>? data)
        {
            if (data is not { } d)
                return null;
            var last = d.Span.LastIndexOfAnyExcept((byte)0);
            return last < 0 ? (ReadOnlyMemory<byte>?)null : d[..(last + 1)];
        }
    }
}
