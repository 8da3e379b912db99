// SqliteStorage - the embedded multi-version storage on one SQLite file (STORAGE.md §3).
//
// Owns: one database file (layout and refusal rules in SqliteSchema), a pool of connections to it,
// and the in-process wake-up of Changes streams. Does not own: the meaning of object states
// (ObjectCodec) or of change records beyond storing them (ChangeRecordCodec).
//
// Organization:
//   SqliteStorage.cs         open, reads, Commit, NewOid, Pack (this file)
//   SqliteStorage.Commit.cs  validation, conflicts and the write of a commit
//   SqliteStorage.Chunks.cs  a chunk rebuilt from its delta chain
//   SqliteStorage.Checkpoint.cs WAL checkpoints off the commit path
//   SqliteStorage.Changes.cs the Changes async stream (woken by commits: in-process and inotify)
//   SqliteSchema.cs          layout, version checks
//   SqliteConnectionPool.cs  connections and prepared statements
//
// Invariants (numbered as in IStorage, plus the SQLite specifics):
//   (1) Commit is one SQLite write transaction (BEGIN IMMEDIATE ... COMMIT) on a WAL database with
//       synchronous=FULL: a crash at any moment leaves the last completed commit; Commit returning
//       means the WAL was fsynced.
//   (2) Conflict checks run inside that write transaction, so no commit can slip in between check
//       and write; on conflict the transaction is rolled back (nothing written).
//   (3) Tids are assigned inside the write transaction as max(last + 1, now in ns since the Unix
//       epoch): commit order = tid order, so a reader polling "tid > last seen" sees each commit
//       exactly once, in order.
//   (5) Every block write is a block row; its data is kept as chunk rows (BlockChunks.cs), one per
//       chunk that differs from the chunk's newest stored version, whole or as a delta over that
//       version (ChunkDeltas.cs); a whole row's data is NULL for a hole chunk, otherwise it has no
//       trailing zeros. A read is one statement: the newest block row ≤ at (the serial) and, per
//       chunk position, one indexed lookup of the newest chunk ≤ at; a chunk whose newest version
//       is a delta takes one more indexed range read of its chain (at most MaxDepth + 1 rows).
//   (6) next_oid in meta only grows (oids are never reused); oid 0 is the root, which reads as
//       RootState.Empty (serial Tid.Zero) until first written.
//
// Threading: every public member may be called from any thread. Reads rent a pooled connection
// (one thread at a time per connection). Writers (Commit, NewOid, Pack) serialize in-process on
// _writeGate and across processes on SQLite's write lock (BEGIN IMMEDIATE, busy timeout).
// Tids are stored as signed 64-bit integers: commit-time tids are < 2^63 until the year 2262.
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Wcfs.Actors.Storage;

/// <summary>The SQLite backend of <see cref="IStorage"/>.</summary>
public sealed partial class SqliteStorage : IStorage
{
    /// <summary>How long a writer waits for another process's write lock before failing.</summary>
    internal static readonly TimeSpan BusyTimeout = TimeSpan.FromSeconds(30);

    private readonly SqliteConnectionPool _pool;
    private readonly Lock _writeGate = new();
    private volatile bool _disposed;

    private int _chunkSize;

    private SqliteStorage(string path)
    {
        Path = path;
        Url = "sqlite://" + path;
        _pool = new SqliteConnectionPool(path);
    }

    /// <inheritdoc />
    public string Url { get; }

    /// <summary>The database file.</summary>
    public string Path { get; }

    /// <summary>Bytes the idle pooled connections keep in their page caches (diagnostics, tests).</summary>
    internal long IdlePageCacheBytes() => _pool.IdlePageCacheBytes();

    /// <summary>The chunk size of this database (fixed when it was created or migrated).</summary>
    public int ChunkSize => _chunkSize;

    /// <summary>
    /// Opens the database at <paramref name="path"/> (absolute), creating it (and its directory) if
    /// absent, and migrating a schema 1 database in place. A foreign, corrupt or newer-schema file is
    /// refused and left untouched. <paramref name="options"/> apply to a database created or migrated
    /// now.
    /// </summary>
    /// <exception cref="StorageException">The file cannot be used; the message names the cause.</exception>
    public static SqliteStorage Open(string path, StorageOptions? options = null)
    {
        options ??= StorageOptions.Default;
        path = System.IO.Path.GetFullPath(path);
        var state = SqliteSchema.Inspect(path);
        try
        {
            var dir = System.IO.Path.GetDirectoryName(path);
            if (!string.IsNullOrEmpty(dir))
                Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException($"cannot create the directory of {path}: {e.Message}", e);
        }
        var s = new SqliteStorage(path);
        try
        {
            if (state == SqliteSchema.FileState.Empty)
                s.Initialize(options.ChunkSize);
            else
                s.Use("open", c => c.Execute("PRAGMA journal_mode = WAL"));
            if (state == SqliteSchema.FileState.Migratable)
                s.Migrate(options.ChunkSize);
            s._chunkSize = s.Use("read the chunk size", c => (int)SqliteSchema.Scalar(c.Connection, "SELECT value FROM meta WHERE key = 'chunk_size'"));
            if (!BlockChunks.IsValidChunkSize(s._chunkSize))
                throw new StorageException($"{path} is corrupt: invalid chunk size {s._chunkSize} in meta; refusing to use it");
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    private void Migrate(int chunkSize) => Use($"migrate to schema {SqliteSchema.SchemaVersion}", c =>
    {
        lock (_writeGate)
        {
            c.Execute("BEGIN IMMEDIATE");
            try
            {
                // Another process may have migrated it between Inspect and here.
                if (SqliteSchema.IsMigratable(SqliteSchema.Scalar(c.Connection, "PRAGMA user_version")))
                    SqliteSchema.Migrate(c.Connection, chunkSize);
                c.Execute("COMMIT");
            }
            catch
            {
                Rollback(c);
                throw;
            }
        }
    });

    private void Initialize(int chunkSize) => Use("create", c =>
    {
        // page_size only takes effect before the first table exists; WAL is persistent.
        c.Execute($"PRAGMA page_size = {SqliteSchema.PageSize}; PRAGMA journal_mode = WAL;");
        lock (_writeGate)
        {
            c.Execute("BEGIN IMMEDIATE");
            try
            {
                // Another process may have initialized it between Inspect and here.
                if (SqliteSchema.Scalar(c.Connection, "SELECT count(*) FROM sqlite_master") == 0)
                    SqliteSchema.Create(c.Connection, chunkSize);
                c.Execute("COMMIT");
            }
            catch
            {
                Rollback(c);
                throw;
            }
        }
        if (SqliteSchema.Inspect(Path) != SqliteSchema.FileState.Ours)
            throw new StorageException($"{Path}: initialization did not produce a wcfs database");
    });

    /// <inheritdoc />
    public Tid LastTid => Use("read last tid", c => LastTidOf(c));

    /// <inheritdoc />
    public Oid NewOid() => Write("allocate an oid", c =>
    {
        var cmd = c.Command("UPDATE meta SET value = value + 1 WHERE key = 'next_oid' RETURNING value - 1");
        return new Oid((ulong)(long)cmd.ExecuteScalar()!);
    });

    /// <inheritdoc />
    public LoadedObject? LoadObject(Oid oid, Tid at) => Use("load object " + oid, c =>
    {
        var cmd = c.Command("SELECT tid, kind, state FROM obj WHERE oid = $a AND tid <= $b ORDER BY tid DESC LIMIT 1", "$a", "$b");
        cmd.Parameters[0].Value = Db(oid);
        cmd.Parameters[1].Value = Db(at);
        using var r = cmd.ExecuteReader();
        if (!r.Read())
            return oid == Oid.Root ? new LoadedObject(RootState.Empty, Tid.Zero) : null;
        var kind = (byte)r.GetInt64(1);
        if (kind == 0)
            return null;
        var state = ObjectCodec.Decode(oid, kind, (byte[])r.GetValue(2));
        return new LoadedObject(state, FromDb(r.GetInt64(0)));
    });

    /// <summary>
    /// Invariant (5) in one statement: row -1 carries the serial, then one row per chunk position
    /// that has a version ≤ at (its newest), found by one seek in chunk_version each: its rowid and
    /// length (length() does not read a blob's pages); the bytes move by blob I/O (SqliteChunkBlob).
    /// </summary>
    internal const string ReadBlockSql = """
        WITH RECURSIVE k(n) AS (VALUES(0) UNION ALL SELECT n + 1 FROM k WHERE n + 1 < ?4)
        SELECT -1, (SELECT max(tid) FROM block WHERE oid = ?1 AND blk = ?2 AND tid <= ?3), NULL, NULL
        UNION ALL
        SELECT k.n, c.rowid, length(c.data), c.depth FROM k JOIN chunk AS c ON c.rowid =
          (SELECT rowid FROM chunk WHERE oid = ?1 AND blk = ?2 AND chunk = k.n AND tid <= ?3 ORDER BY tid DESC LIMIT 1)
        """;

    /// <inheritdoc />
    public Tid? ReadBlock(Oid oid, long blk, Tid at, Span<byte> dest)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blk);
        var c = Rent();
        try
        {
            var st = c.Raw(ReadBlockSql);
            raw.sqlite3_bind_int64(st, 1, Db(oid));
            raw.sqlite3_bind_int64(st, 2, blk);
            raw.sqlite3_bind_int64(st, 3, Db(at));
            raw.sqlite3_bind_int64(st, 4, BlockChunks.CountFor(_chunkSize, dest.Length));
            // The blob handle runs inside the statement's read transaction: disposed before the reset.
            var blob = new SqliteChunkBlob(c.Connection.Handle!, Path, write: false);
            byte[]? scratch = null;
            try
            {
                Tid? serial = null;
                var end = 0; // dest[..end] is written; the rest is cleared at the end
                int rc;
                while ((rc = raw.sqlite3_step(st)) == raw.SQLITE_ROW)
                {
                    var k = raw.sqlite3_column_int64(st, 0);
                    if (k < 0)
                    {
                        if (raw.sqlite3_column_type(st, 1) == raw.SQLITE_NULL)
                            break; // never written as of at: a hole with no serial
                        serial = FromDb(raw.sqlite3_column_int64(st, 1));
                        continue;
                    }
                    var length = (int)raw.sqlite3_column_int64(st, 2); // 0 for a hole chunk (NULL)
                    var depth = raw.sqlite3_column_int64(st, 3);
                    if (length == 0 && depth == 0)
                        continue;
                    var off = (int)(k * _chunkSize);
                    if (depth > 0)
                    {
                        // A delta: rebuild the chunk from its chain (ChunkDeltas.cs), then place it.
                        scratch ??= System.Buffers.ArrayPool<byte>.Shared.Rent(_chunkSize);
                        length = ReadChain(c, blob, oid, blk, k, Db(at), depth, scratch.AsSpan(0, _chunkSize));
                    }
                    if (off + (long)length > dest.Length)
                        throw new ArgumentException($"block {blk} of {oid} holds {off + (long)length} bytes, more than the {dest.Length}-byte buffer", nameof(dest));
                    dest[end..off].Clear();
                    if (depth > 0)
                        scratch.AsSpan(0, length).CopyTo(dest[off..]);
                    else
                        blob.Read(raw.sqlite3_column_int64(st, 1), dest.Slice(off, length));
                    end = off + length;
                }
                if (rc != raw.SQLITE_ROW && rc != raw.SQLITE_DONE)
                    throw new StorageException($"{Path}: read of block {blk} of {oid} failed: {raw.sqlite3_errmsg(c.Connection.Handle).utf8_to_string()}");
                dest[end..].Clear();
                return serial;
            }
            finally
            {
                blob.Dispose();
                raw.sqlite3_reset(st);
                if (scratch is not null)
                    System.Buffers.ArrayPool<byte>.Shared.Return(scratch);
            }
        }
        finally
        {
            _pool.Return(c);
        }
    }

    /// <inheritdoc />
    public Tid? BlockRevAt(Oid oid, long blk, Tid at) => Use("read block history", c =>
    {
        var cmd = c.Command("SELECT max(tid) FROM block WHERE oid = $a AND blk = $b AND tid <= $c", "$a", "$b", "$c");
        cmd.Parameters[0].Value = Db(oid);
        cmd.Parameters[1].Value = blk;
        cmd.Parameters[2].Value = Db(at);
        return cmd.ExecuteScalar() is long t ? FromDb(t) : (Tid?)null;
    });

    /// <inheritdoc />
    public long LastBlock(Oid oid, Tid at) => Use("read file size", c =>
    {
        var cmd = c.Command("SELECT max(blk) FROM block WHERE oid = $a AND tid <= $b", "$a", "$b");
        cmd.Parameters[0].Value = Db(oid);
        cmd.Parameters[1].Value = Db(at);
        return cmd.ExecuteScalar() is long b ? b : -1;
    });

    /// <inheritdoc />
    public IReadOnlyList<Oid> ListObjects(Tid at) => Use("list objects", c =>
    {
        // Bare column "kind" with max(tid): SQLite takes it from the row holding the maximum.
        var cmd = c.Command("SELECT oid, kind, max(tid) FROM obj WHERE tid <= $a GROUP BY oid ORDER BY oid", "$a");
        cmd.Parameters[0].Value = Db(at);
        var list = new List<Oid> { Oid.Root };
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var oid = new Oid((ulong)r.GetInt64(0));
            if (r.GetInt64(1) != 0 && oid != Oid.Root)
                list.Add(oid);
        }
        return list;
    });

    /// <inheritdoc />
    public void Pack(Tid beforeTid) => Write("pack", c =>
    {
        // A version is invisible to every reader at ≥ cut iff a newer version with tid ≤ cut exists
        // (per block for block rows); per chunk position, a newer *whole* version with tid ≤ cut
        // (the deltas after it need it: ChunkDeltas.cs). A hole chunk that is then the oldest
        // version of its chunk shadows nothing and goes too.
        foreach (var sql in new[]
        {
            """
            DELETE FROM block WHERE tid < $a AND EXISTS (
              SELECT 1 FROM block AS n WHERE n.oid = block.oid AND n.blk = block.blk AND n.tid > block.tid AND n.tid <= $a)
            """,
            """
            DELETE FROM chunk WHERE tid < $a AND EXISTS (
              SELECT 1 FROM chunk AS n WHERE n.oid = chunk.oid AND n.blk = chunk.blk AND n.chunk = chunk.chunk AND n.tid > chunk.tid AND n.tid <= $a
                                         AND n.off IS NULL)
            """,
            """
            DELETE FROM chunk WHERE data IS NULL AND off IS NULL AND tid <= $a AND NOT EXISTS (
              SELECT 1 FROM chunk AS o WHERE o.oid = chunk.oid AND o.blk = chunk.blk AND o.chunk = chunk.chunk AND o.tid < chunk.tid)
            """,
        })
        {
            var cmd = c.Command(sql, "$a");
            cmd.Parameters[0].Value = Db(beforeTid);
            cmd.ExecuteNonQuery();
        }
        var objects = c.Command("""
            DELETE FROM obj WHERE tid < $a AND EXISTS (
              SELECT 1 FROM obj AS n WHERE n.oid = obj.oid AND n.tid > obj.tid AND n.tid <= $a)
            """, "$a");
        objects.Parameters[0].Value = Db(beforeTid);
        objects.ExecuteNonQuery();
        return 0;
    });

    /// <inheritdoc />
    public void Reclaim() => Use("reclaim space", c =>
    {
        lock (_writeGate)
        {
            c.Execute("VACUUM");
            c.Execute("PRAGMA wal_checkpoint(TRUNCATE)"); // shrinks -wal once no reader holds an old snapshot
        }
    });

    /// <inheritdoc />
    public IReadOnlyList<FileUsage> Usage() => Use("measure usage", c =>
    {
        // Head: the rows the newest version of each chunk is read from (its chain: from the newest
        // whole version on); history: the rest.
        var cmd = c.Command("""
            SELECT oid, sum(CASE WHEN head THEN len ELSE 0 END), sum(CASE WHEN head THEN 0 ELSE len END)
            FROM (SELECT oid, coalesce(length(data), 0) AS len,
                         tid >= max(CASE WHEN off IS NULL THEN tid END) OVER (PARTITION BY oid, blk, chunk) AS head FROM chunk)
            GROUP BY oid ORDER BY oid
            """);
        var list = new List<FileUsage>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
            list.Add(new FileUsage(new Oid((ulong)r.GetInt64(0)), r.GetInt64(1), r.GetInt64(2)));
        return list;
    });

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        StopWatchingCommits();
        StopCheckpointer();
        _pool.Dispose();
    }

    /// <summary>Runs <paramref name="body"/> on a pooled connection; SQLite errors become StorageException.</summary>
    private T Use<T>(string what, Func<PooledSqliteConnection, T> body)
    {
        var c = Rent();
        try
        {
            return body(c);
        }
        catch (SqliteException e)
        {
            throw new StorageException($"{Path}: {what} failed: {e.Message}", e);
        }
        finally
        {
            _pool.Return(c);
        }
    }

    private void Use(string what, Action<PooledSqliteConnection> body) => Use(what, c => { body(c); return 0; });

    /// <summary>Runs <paramref name="body"/> in a write transaction (invariant (1)); rolls back on any exception.</summary>
    private T Write<T>(string what, Func<PooledSqliteConnection, T> body) => Use(what, c =>
    {
        lock (_writeGate)
        {
            c.Execute("BEGIN IMMEDIATE");
            T result;
            try
            {
                result = body(c);
            }
            catch
            {
                Rollback(c);
                throw;
            }
            c.Execute("COMMIT");
            return result;
        }
    });

    private static void Rollback(PooledSqliteConnection c)
    {
        try
        {
            c.Execute("ROLLBACK");
        }
        catch (SqliteException)
        {
            c.Broken = true; // the transaction may still be open: never reuse this connection
        }
    }

    private PooledSqliteConnection Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        try
        {
            return _pool.Rent();
        }
        catch (SqliteException e)
        {
            throw new StorageException($"cannot open {Path}: {e.Message}", e);
        }
    }

    private static Tid LastTidOf(PooledSqliteConnection c) =>
        c.Command("SELECT max(tid) FROM txn").ExecuteScalar() is long t ? FromDb(t) : Tid.Zero;

    /// <summary>A tid as stored (signed); Tid.Max and others ≥ 2^63 mean "everything".</summary>
    internal static long Db(Tid t) => t.Value > long.MaxValue ? long.MaxValue : (long)t.Value;

    internal static long Db(Oid o) => (long)o.Value;

    internal static Tid FromDb(long t) => new((ulong)t);
}
