// SqliteStorage.Commit - validation, conflict detection and the write of one commit
// (invariants (1), (2), (3), (5), (6) of SqliteStorage.cs).
using SQLitePCL;

namespace Wcfs.Actors.Storage;

public sealed partial class SqliteStorage
{
    private TaskCompletionSource _commitSignal = NewSignal();

    /// <inheritdoc />
    public Tid Commit(Tid baseAt, IReadOnlyList<ObjectWrite> objects, IReadOnlyList<BlockWrite> blocks)
    {
        ArgumentNullException.ThrowIfNull(objects);
        ArgumentNullException.ThrowIfNull(blocks);
        CheckShape(objects, blocks);
        var tid = Write("commit", c =>
        {
            var last = LastTidOf(c);
            if (baseAt > last)
                throw new ArgumentException($"commit base {baseAt} is after the last commit {last}", nameof(baseAt));
            var files = CheckObjects(c, baseAt, objects);
            var existed = CheckBlocks(c, baseAt, last, blocks, files);
            var tid = NextTid(last);
            WriteObjects(c, tid, objects);
            WriteBlocks(c, tid, blocks, files, existed);
            var changed = blocks.GroupBy(b => b.Oid).ToDictionary(g => g.Key, g => g.Select(b => b.Blk).Order().ToArray());
            var txn = c.Command("INSERT INTO txn(tid, changes) VALUES ($a, $b)", "$a", "$b");
            txn.Parameters[0].Value = Db(tid);
            txn.Parameters[1].SqliteType = Microsoft.Data.Sqlite.SqliteType.Blob;
            txn.Parameters[1].Value = ChangeRecordCodec.Encode(objects.Select(o => o.Oid), changed);
            txn.ExecuteNonQuery();
            return tid;
        });
        Interlocked.Exchange(ref _commitSignal, NewSignal()).TrySetResult();
        TouchNotifyFile(); // after COMMIT: the commit is visible (SqliteStorage.Changes.cs)
        CountWalBytes(blocks.Sum(b => (long)(b.Data?.Length ?? 0))); // SqliteStorage.Checkpoint.cs
        return tid;
    }

    /// <summary>Invariant (3): strictly increasing, derived from commit time.</summary>
    private static Tid NextTid(Tid last)
    {
        var now = (ulong)(DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        return new Tid(Math.Max(last.Value + 1, now));
    }

    private static void CheckShape(IReadOnlyList<ObjectWrite> objects, IReadOnlyList<BlockWrite> blocks)
    {
        var seen = new HashSet<Oid>();
        foreach (var o in objects)
        {
            if (!seen.Add(o.Oid))
                throw new ArgumentException($"object {o.Oid} is written twice in one commit", nameof(objects));
            if (o.Oid == Oid.Root ? o.State is not RootState : o.State is RootState)
                throw new ArgumentException($"object {o.Oid}: only oid 0 holds the root, and it holds nothing else (and is never deleted)", nameof(objects));
        }
        var seenBlocks = new HashSet<(Oid, long)>();
        foreach (var b in blocks)
        {
            if (b.Blk < 0)
                throw new ArgumentException($"invalid block number {b.Blk} of {b.Oid}: must be ≥ 0", nameof(blocks));
            if (!seenBlocks.Add((b.Oid, b.Blk)))
                throw new ArgumentException($"block {b.Blk} of {b.Oid} is written twice in one commit", nameof(blocks));
        }
    }

    /// <summary>Object conflicts (invariant (2)); returns the block size of every file written in this commit.</summary>
    private Dictionary<Oid, int> CheckObjects(PooledSqliteConnection c, Tid baseAt, IReadOnlyList<ObjectWrite> objects)
    {
        var nextOid = (long)c.Command("SELECT value FROM meta WHERE key = 'next_oid'").ExecuteScalar()!;
        var files = new Dictionary<Oid, int>();
        foreach (var o in objects)
        {
            if (o.Oid != Oid.Root && (o.Oid.Value >= (ulong)nextOid))
                throw new ArgumentException($"object {o.Oid} was never allocated (use NewOid)", nameof(objects));
            var newest = NewestObjectTid(c, o.Oid);
            if (newest is { } n && n > baseAt)
                throw new ConflictException(o.Oid, null, baseAt, n);
            if (o.State is ZBigFileState f)
            {
                if (LoadObject(o.Oid, Tid.Max)?.State is ZBigFileState old && old.BlockSize != f.BlockSize)
                    throw new ArgumentException($"file {o.Oid}: the block size never changes ({old.BlockSize} → {f.BlockSize})", nameof(objects));
                files[o.Oid] = f.BlockSize;
            }
            else
            {
                files[o.Oid] = 0; // written in this commit as something other than a file
            }
        }
        return files;
    }

    /// <summary>Block conflicts (invariant (2)) and sizes; returns, per write, whether the block has an earlier version.</summary>
    private bool[] CheckBlocks(PooledSqliteConnection c, Tid baseAt, Tid last, IReadOnlyList<BlockWrite> blocks, Dictionary<Oid, int> files)
    {
        var existed = new bool[blocks.Count];
        var newest = c.Command("SELECT max(tid) FROM block WHERE oid = $a AND blk = $b", "$a", "$b");
        var i = 0;
        foreach (var b in blocks)
        {
            if (!files.TryGetValue(b.Oid, out var blockSize))
            {
                blockSize = LoadObject(b.Oid, last)?.State is ZBigFileState f ? f.BlockSize : 0;
                files[b.Oid] = blockSize;
            }
            if (blockSize == 0)
                throw new ArgumentException($"cannot write block {b.Blk} of {b.Oid}: it is not a ZBigFile", nameof(blocks));
            if (BlockNumber.CheckInFile(b.Blk, blockSize) is { } bad)
                throw new ArgumentException($"file {b.Oid}: {bad}", nameof(blocks));
            if (b.Data is { } d && d.Length > blockSize)
                throw new ArgumentException($"data for block {b.Blk} of {b.Oid} is {d.Length} bytes, longer than the block size {blockSize}", nameof(blocks));
            newest.Parameters[0].Value = Db(b.Oid);
            newest.Parameters[1].Value = b.Blk;
            if (newest.ExecuteScalar() is long t)
            {
                if (FromDb(t) > baseAt)
                    throw new ConflictException(b.Oid, b.Blk, baseAt, FromDb(t));
                existed[i] = true;
            }
            i++;
        }
        return existed;
    }

    private static Tid? NewestObjectTid(PooledSqliteConnection c, Oid oid)
    {
        var cmd = c.Command("SELECT max(tid) FROM obj WHERE oid = $a", "$a");
        cmd.Parameters[0].Value = Db(oid);
        return cmd.ExecuteScalar() is long t ? FromDb(t) : null;
    }

    private static void WriteObjects(PooledSqliteConnection c, Tid tid, IReadOnlyList<ObjectWrite> objects)
    {
        var cmd = c.Command("INSERT INTO obj(oid, tid, kind, state) VALUES ($a, $b, $c, $d)", "$a", "$b", "$c", "$d");
        cmd.Parameters[3].SqliteType = Microsoft.Data.Sqlite.SqliteType.Blob;
        foreach (var o in objects)
        {
            var (kind, data) = o.State is null ? ((byte)0, null) : ObjectCodec.Encode(o.State);
            cmd.Parameters[0].Value = Db(o.Oid);
            cmd.Parameters[1].Value = Db(tid);
            cmd.Parameters[2].Value = (long)kind;
            cmd.Parameters[3].Value = (object?)data ?? DBNull.Value;
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>
    /// Invariant (5): a block row per write; per chunk, a chunk row only if the chunk differs from
    /// its newest stored version (which, after the conflict check, is the version the writer based
    /// its data on): whole, or a delta over that version (ChunkDeltas.cs decides). A block with no
    /// earlier version only stores its non-zero chunks, whole. Chunk bytes move by blob I/O
    /// (SqliteChunkBlob): the newest version is read (rebuilt from its chain for a delta) to compare;
    /// a new chunk row gets zeroblob(n), then its bytes.
    /// </summary>
    private void WriteBlocks(PooledSqliteConnection c, Tid tid, IReadOnlyList<BlockWrite> blocks, Dictionary<Oid, int> files, bool[] existed)
    {
        var block = c.Raw("INSERT INTO block(oid, blk, tid) VALUES (?1, ?2, ?3)");
        var prev = c.Raw("SELECT rowid, length(data), depth FROM chunk WHERE oid = ?1 AND blk = ?2 AND chunk = ?3 ORDER BY tid DESC LIMIT 1");
        var insert = c.Raw("INSERT INTO chunk(oid, blk, chunk, tid, data, off, depth) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
        using var blob = new SqliteChunkBlob(c.Connection.Handle!, Path, write: true);
        byte[]? before = null;
        try
        {
            for (var i = 0; i < blocks.Count; i++)
            {
                var b = blocks[i];
                var data = b.Data is { } d ? d.Span : default;
                var chunk = BlockChunks.For(_chunkSize, files[b.Oid]);
                Step(block, b, tid, null, default, 0);
                var count = existed[i] ? files[b.Oid] / chunk : (data.Length + chunk - 1) / chunk;
                for (var k = 0; k < count; k++)
                {
                    var now = BlockChunks.Chunk(data, chunk, k);
                    var change = new ChunkChange(false, true, 0, now.Length);
                    var depth = 0;
                    if (existed[i])
                    {
                        before ??= System.Buffers.ArrayPool<byte>.Shared.Rent(_chunkSize);
                        (change, depth) = Compare(b, k, now, before.AsSpan(0, _chunkSize));
                        if (change.Unchanged)
                            continue;
                    }
                    else if (now.IsEmpty)
                    {
                        continue;
                    }
                    Step(insert, b, tid, k, change, depth + 1);
                    if (change.Length > 0 && change.Off < now.Length)
                        blob.Write(raw.sqlite3_last_insert_rowid(c.Connection.Handle), now[change.Off..Math.Min(now.Length, change.Off + change.Length)]);
                }
            }
        }
        finally
        {
            if (before is not null)
                System.Buffers.ArrayPool<byte>.Shared.Return(before);
        }

        // How chunk k's new content `now` is stored after its newest stored version (rebuilt in
        // scratch), and that version's depth.
        (ChunkChange, int) Compare(BlockWrite b, int k, ReadOnlySpan<byte> now, Span<byte> scratch)
        {
            raw.sqlite3_bind_int64(prev, 1, Db(b.Oid));
            raw.sqlite3_bind_int64(prev, 2, b.Blk);
            raw.sqlite3_bind_int64(prev, 3, k);
            long rowid = 0, depth = 0;
            var length = 0;
            try
            {
                var rc = raw.sqlite3_step(prev);
                if (rc is not (raw.SQLITE_ROW or raw.SQLITE_DONE))
                    throw new StorageException($"{Path}: read of block {b.Blk} of {b.Oid} failed: {raw.sqlite3_errmsg(c.Connection.Handle).utf8_to_string()}");
                if (rc == raw.SQLITE_ROW)
                    (rowid, length, depth) = (raw.sqlite3_column_int64(prev, 0), (int)raw.sqlite3_column_int64(prev, 1), raw.sqlite3_column_int64(prev, 2));
            }
            finally
            {
                raw.sqlite3_reset(prev);
            }
            if (depth > 0)
            {
                length = ReadChain(c, blob, b.Oid, b.Blk, k, long.MaxValue, depth, scratch);
            }
            else if (length > 0 && !now.IsEmpty)
            {
                if (length > scratch.Length)
                    throw new StorageException($"{Path}: chunk {k} of block {b.Blk} of {b.Oid} holds {length} bytes, more than a chunk (corrupt database)");
                blob.Read(rowid, scratch[..length]);
            }
            else
            {
                // No row, a hole, or a new hole over data: equal only when both are empty.
                return (length == 0 && now.IsEmpty ? new ChunkChange(true, false, 0, 0) : new ChunkChange(false, true, 0, now.Length), 0);
            }
            return (ChunkDeltas.Decide(scratch[..length], (int)depth, now), (int)depth);
        }

        // Inserts a block row (k null) or a chunk row: whole (off NULL, depth 0; data NULL when
        // empty) or a delta (off, depth); its data is zeroblob(length), written after.
        void Step(SQLitePCL.sqlite3_stmt st, BlockWrite b, Tid t, int? k, ChunkChange change, int deltaDepth)
        {
            try
            {
                raw.sqlite3_bind_int64(st, 1, Db(b.Oid));
                raw.sqlite3_bind_int64(st, 2, b.Blk);
                if (k is { } n)
                {
                    raw.sqlite3_bind_int64(st, 3, n);
                    raw.sqlite3_bind_int64(st, 4, Db(t));
                    if (change.Length == 0)
                        raw.sqlite3_bind_null(st, 5);
                    else
                        raw.sqlite3_bind_zeroblob(st, 5, change.Length);
                    if (change.Whole)
                    {
                        raw.sqlite3_bind_null(st, 6);
                        raw.sqlite3_bind_int64(st, 7, 0);
                    }
                    else
                    {
                        raw.sqlite3_bind_int64(st, 6, change.Off);
                        raw.sqlite3_bind_int64(st, 7, deltaDepth);
                    }
                }
                else
                {
                    raw.sqlite3_bind_int64(st, 3, Db(t));
                }
                var rc = raw.sqlite3_step(st);
                if (rc != raw.SQLITE_DONE)
                    throw new StorageException($"{Path}: write of block {b.Blk} of {b.Oid} failed: {raw.sqlite3_errmsg(c.Connection.Handle).utf8_to_string()}");
            }
            finally
            {
                raw.sqlite3_reset(st);
                raw.sqlite3_clear_bindings(st);
            }
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
