// PostgresStorage - IStorage on a PostgreSQL database shared by several machines (STORAGE.md §3).
//
// Owns: one pooled NpgsqlDataSource for reads and commits, and one unpooled LISTEN connection per
// Changes stream. Does not own the database server, nor the schema's search_path (the URL does).
// Tables and schema versioning: PostgresSchema.cs. Change streams: PostgresStorage.Changes.cs.
// Commits and their in-doubt resolution: PostgresStorage.Commit.cs.
//
// Organization of a commit (one transaction, READ COMMITTED, 3 round trips + COPY for big data):
//   1. SELECT ... FROM wcfs_head WHERE id = 1 FOR UPDATE   -- the one row all writers queue on
//      + in the same batch, under the lock: the clock, the allocated oids, current object states,
//      and the conflict check: any version of a written object/block with tid > baseAt → conflict
//   2. tid = max(last_tid + 1, now in ns since the Unix epoch by the database server's clock)
//   3. blocks > 1 MiB in total: binary COPY; then one batch: object and (small) block versions,
//      the commit row (change record + commit token), head bump, pg_notify('wcfs_commit', tid)
//   4. COMMIT                                               -- NOTIFY is delivered at COMMIT
//
// Invariants (numbers cited in code):
//   (1) tids are strictly increasing and commits become visible in tid order: a tid is chosen and
//       committed while holding the head row lock, so the next writer reads the previous tid.
//   (2) A commit is atomic: it is one PostgreSQL transaction; its commit row is written in it.
//   (3) Every commit carries a fresh token (uuid) in wcfs_commits. When the connection breaks
//       during a commit, Commit terminates the old backend (so it can no longer commit), then looks
//       the token up: found → the commit landed, its tid is returned; not found → it did not, and
//       the commit is retried from scratch. Failure is never reported for a commit that landed.
//   (4) Changes(after) yields every commit row with tid > after once, in tid order: it LISTENs
//       before it queries, queries from its cursor after every notification, timeout and
//       reconnect, so a notification lost with a connection costs latency, never a commit.
//   (5) Reads are single statements (their own snapshot); tids/oids are bigint, and "at" values
//       above long.MaxValue (Tid.Max) are clamped, which changes nothing since real tids are < 2^63.
//
// Threading: every public member is safe to call from any thread; each call takes a pooled
// connection for its duration. Reads retry on a broken connection (a restarted server leaves
// dead connections in the pool) until Options.ReconnectTimeout.
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using Npgsql;

namespace Wcfs.Actors.Storage;

/// <summary>Tuning of <see cref="PostgresStorage"/>.</summary>
public sealed record PostgresStorageOptions
{
    /// <summary>How long a read or commit keeps reconnecting to a lost server before it fails.</summary>
    public TimeSpan ReconnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a Changes stream waits for a notification before it polls the commit table anyway
    /// (also its liveness probe of the LISTEN connection).
    /// </summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long one commit may wait for the head lock and for the server to store its data (a
    /// commit of many blocks through a slow link needs long); reads use the URL's Command Timeout
    /// (Npgsql's default 30 s).
    /// </summary>
    public TimeSpan CommitTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>The defaults.</summary>
    public static PostgresStorageOptions Default { get; } = new();
}

/// <summary>The PostgreSQL backend (<c>postgresql://user:pass@host:port/db</c>).</summary>
public sealed partial class PostgresStorage : IStorage
{
    /// <summary>The NOTIFY channel of commits; the payload is the tid (16 hex digits).</summary>
    internal const string Channel = "wcfs_commit";

    /// <summary>application_name of the LISTEN sessions of Changes streams (visible in pg_stat_activity).</summary>
    internal const string ListenerApplicationName = "wcfs changes";

    private readonly NpgsqlDataSource _pool;
    private readonly string _listenConnectionString;
    private readonly CancellationTokenSource _disposed = new();

    private PostgresStorage(PostgresUrl url, PostgresStorageOptions options)
    {
        Url = url.Url;
        Options = options;
        var b = new NpgsqlConnectionStringBuilder(url.Settings.ConnectionString)
        {
            Pooling = true,
            MaxAutoPrepare = 32,
            AutoPrepareMinUsages = 2,
            NoResetOnClose = true,
            TcpKeepAlive = true,
            Enlist = false,
        };
        // A client that vanished mid-commit must not hold the head row lock (all writers) for long.
        // Generic plans: every statement here is a keyed index lookup whose best plan does not depend
        // on the parameter values, and the default (custom plans, re-planned at every execution while
        // they look cheaper) spent 0.25 ms planning each ReadBlock, a quarter of its non-data time
        // (docs/NOTES.md "PostgreSQL reads against the floor").
        b.Options = ((b.Options ?? "") + " -c idle_in_transaction_session_timeout=60000 -c plan_cache_mode=force_generic_plan").Trim();
        _pool = new NpgsqlDataSourceBuilder(b.ConnectionString).Build();
        _listenConnectionString = new NpgsqlConnectionStringBuilder(b.ConnectionString) { Pooling = false, MaxAutoPrepare = 0, ApplicationName = ListenerApplicationName }.ConnectionString;
    }

    /// <summary>
    /// Opens the database at <paramref name="url"/>: connects once, then checks its schema (creating
    /// it in an empty database).
    /// </summary>
    /// <exception cref="StorageException">Bad URL, bad credentials, unreachable server, missing
    /// database, foreign tables or another schema version; the message names the URL without the
    /// password, and nothing was written.</exception>
    public static PostgresStorage Open(string url, PostgresStorageOptions? options = null, StorageOptions? storageOptions = null)
    {
        var parsed = PostgresUrl.Parse(url);
        var s = new PostgresStorage(parsed, options ?? PostgresStorageOptions.Default);
        try
        {
            using var conn = s.OpenForSetup();
            PostgresSchema.Ensure(conn, s.Url, (storageOptions ?? StorageOptions.Default).ChunkSize);
            s._chunkSize = PostgresSchema.ChunkSize(conn, s.Url);
            return s;
        }
        catch
        {
            s.Dispose();
            throw;
        }
    }

    private int _chunkSize;

    /// <inheritdoc />
    public string Url { get; }

    /// <summary>The chunk size of this database (fixed when it was created or migrated).</summary>
    public int ChunkSize => _chunkSize;

    /// <summary>The tuning this storage was opened with.</summary>
    public PostgresStorageOptions Options { get; }

    /// <summary>Test hook: called inside a commit transaction right before COMMIT is sent.</summary>
    internal Action? BeforeCommitHook { get; set; }

    /// <inheritdoc />
    public Tid LastTid => Run("read the last tid", conn =>
    {
        using var cmd = new NpgsqlCommand("SELECT last_tid FROM wcfs_head WHERE id = 1", conn);
        return new Tid((ulong)(long)cmd.ExecuteScalar()!);
    });

    /// <inheritdoc />
    public Oid NewOid() => Run("allocate an oid", conn =>
    {
        using var cmd = new NpgsqlCommand("SELECT nextval('wcfs_oid_seq')", conn);
        return new Oid((ulong)(long)cmd.ExecuteScalar()!);
    });

    /// <inheritdoc />
    public LoadedObject? LoadObject(Oid oid, Tid at) => Run($"load object {oid}", conn =>
    {
        using var cmd = new NpgsqlCommand(
            "SELECT tid, kind, data FROM wcfs_objects WHERE oid = $1 AND tid <= $2 ORDER BY tid DESC LIMIT 1", conn);
        cmd.Parameters.Add(new() { Value = (long)oid.Value });
        cmd.Parameters.Add(new() { Value = Db(at) });
        using var r = cmd.ExecuteReader();
        if (!r.Read())
            return oid == Oid.Root ? new LoadedObject(RootState.Empty, Tid.Zero) : null; // as SqliteStorage: the root always exists
        if (r.IsDBNull(2))
            return null;
        var serial = new Tid((ulong)r.GetInt64(0));
        return new LoadedObject(ObjectCodec.Decode(oid, (byte)r.GetInt16(1), r.GetFieldValue<byte[]>(2)), serial);
    });

    /// <summary>
    /// One round trip: row -1 carries the serial (newest block version ≤ at), then one row per chunk
    /// position with a version ≤ at (its newest: one index probe each, LATERAL).
    /// </summary>
    // Per chunk position: its rows from the newest whole version ≤ at up to the newest version ≤ at,
    // oldest first (one row unless append deltas follow the whole one: ChunkDeltas.cs).
    private const string ReadBlockSql =
        "SELECT -1, (SELECT max(tid) FROM wcfs_blocks WHERE oid = $1 AND blk = $2 AND tid <= $3), NULL::int, NULL::bytea " +
        "UNION ALL " +
        "SELECT k, 0::bigint, c.off, c.data FROM generate_series(0, $4 - 1) AS k CROSS JOIN LATERAL " +
        "(SELECT data, off FROM wcfs_chunks WHERE oid = $1 AND blk = $2 AND chunk = k AND tid <= $3 AND tid >= " +
        "(SELECT tid FROM wcfs_chunks WHERE oid = $1 AND blk = $2 AND chunk = k AND tid <= $3 AND off IS NULL ORDER BY tid DESC LIMIT 1) " +
        "ORDER BY tid) AS c";

    /// <inheritdoc />
    public Tid? ReadBlock(Oid oid, long blk, Tid at, Span<byte> dest)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blk);
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        // Span cannot be captured by the retry lambda: read into a pooled connection's stream here.
        var deadline = Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var conn = _pool.OpenConnection();
                using var cmd = new NpgsqlCommand(ReadBlockSql, conn);
                cmd.Parameters.Add(new() { Value = (long)oid.Value });
                cmd.Parameters.Add(new() { Value = blk });
                cmd.Parameters.Add(new() { Value = Db(at) });
                cmd.Parameters.Add(new() { Value = BlockChunks.CountFor(_chunkSize, dest.Length) });
                using var r = cmd.ExecuteReader(System.Data.CommandBehavior.SequentialAccess);
                Tid? serial = null;
                var end = 0; // dest[..end] is written; the rest is cleared at the end
                var lastChunk = -1;
                while (r.Read())
                {
                    var k = r.GetInt32(0);
                    if (k < 0)
                    {
                        if (r.IsDBNull(1))
                            break; // never written as of at
                        serial = new Tid((ulong)r.GetInt64(1));
                        continue;
                    }
                    // Columns in order (sequential access): off, then data.
                    var delta = r.IsDBNull(2) ? -1 : r.GetInt32(2);
                    if (r.IsDBNull(3))
                    {
                        lastChunk = k; // a hole: whole, nothing to lay
                        continue;
                    }
                    using var data = r.GetStream(3);
                    if (delta >= 0 && (k != lastChunk || delta > _chunkSize))
                        throw new StorageException($"{Url}: chunk {k} of block {blk} of {oid}: a delta at {delta} without its whole version before it (corrupt database)");
                    if (delta < 0 && k == lastChunk)
                        throw new StorageException($"{Url}: chunk {k} of block {blk} of {oid}: two whole versions in one read (corrupt database)");
                    lastChunk = k;
                    var off = k * _chunkSize + Math.Max(delta, 0);
                    if (delta >= 0 && delta + data.Length > _chunkSize)
                        throw new StorageException($"{Url}: chunk {k} of block {blk} of {oid}: a delta at {delta} of {data.Length} bytes reaches past the chunk (corrupt database)");
                    if (off + data.Length > dest.Length)
                        throw new ArgumentException($"block {blk} of {oid} holds {off + data.Length} bytes, more than the {dest.Length}-byte buffer", nameof(dest));
                    if (end < off)
                        dest[end..off].Clear();
                    data.ReadExactly(dest.Slice(off, (int)data.Length));
                    end = Math.Max(end, off + (int)data.Length);
                }
                dest[end..].Clear();
                return serial;
            }
            catch (Exception e) when (e is not (StorageException or ArgumentException or ObjectDisposedException))
            {
                BackoffOrThrow(e, $"read block {blk} of {oid}", attempt, deadline);
            }
        }
    }

    /// <inheritdoc />
    public Tid? BlockRevAt(Oid oid, long blk, Tid at) => Run($"read the revision of block {blk} of {oid}", conn =>
    {
        using var cmd = new NpgsqlCommand(
            "SELECT tid FROM wcfs_blocks WHERE oid = $1 AND blk = $2 AND tid <= $3 ORDER BY tid DESC LIMIT 1", conn);
        cmd.Parameters.Add(new() { Value = (long)oid.Value });
        cmd.Parameters.Add(new() { Value = blk });
        cmd.Parameters.Add(new() { Value = Db(at) });
        return cmd.ExecuteScalar() is long t ? new Tid((ulong)t) : (Tid?)null;
    });

    /// <inheritdoc />
    public long LastBlock(Oid oid, Tid at) => Run($"read the size of {oid}", conn =>
    {
        using var cmd = new NpgsqlCommand("SELECT max(blk) FROM wcfs_blocks WHERE oid = $1 AND tid <= $2", conn);
        cmd.Parameters.Add(new() { Value = (long)oid.Value });
        cmd.Parameters.Add(new() { Value = Db(at) });
        return cmd.ExecuteScalar() is long b ? b : -1;
    });

    /// <inheritdoc />
    public IReadOnlyList<Oid> ListObjects(Tid at) => Run("list objects", conn =>
    {
        using var cmd = new NpgsqlCommand(
            "SELECT oid FROM (SELECT DISTINCT ON (oid) oid, data FROM wcfs_objects WHERE tid <= $1 ORDER BY oid, tid DESC) v " +
            "WHERE data IS NOT NULL ORDER BY oid", conn);
        cmd.Parameters.Add(new() { Value = Db(at) });
        var list = new List<Oid> { Oid.Root }; // as SqliteStorage: the root always exists
        using var r = cmd.ExecuteReader();
        while (r.Read())
            if (r.GetInt64(0) != 0)
                list.Add(new Oid((ulong)r.GetInt64(0)));
        return list;
    });

    /// <inheritdoc />
    public void Pack(Tid beforeTid) => Run("pack", conn =>
    {
        // Keep, per object and per block, the newest version at or before the cut (even a deletion:
        // it keeps LastBlock and serials unchanged for readers at or after the cut) and all later ones;
        // per chunk, from its newest whole version at or before the cut on (the deltas after it need it).
        using var tx = conn.BeginTransaction();
        using var batch = new NpgsqlBatch(conn, tx)
        {
            BatchCommands =
            {
                new("SELECT 1 FROM wcfs_head WHERE id = 1 FOR UPDATE"),
                new("DELETE FROM wcfs_objects o USING (SELECT oid, max(tid) AS keep FROM wcfs_objects WHERE tid <= $1 GROUP BY oid) k " +
                    "WHERE o.oid = k.oid AND o.tid < k.keep") { Parameters = { new() { Value = Db(beforeTid) } } },
                new("DELETE FROM wcfs_blocks b USING (SELECT oid, blk, max(tid) AS keep FROM wcfs_blocks WHERE tid <= $1 GROUP BY oid, blk) k " +
                    "WHERE b.oid = k.oid AND b.blk = k.blk AND b.tid < k.keep") { Parameters = { new() { Value = Db(beforeTid) } } },
                new("DELETE FROM wcfs_chunks c USING (SELECT oid, blk, chunk, max(tid) AS keep FROM wcfs_chunks WHERE tid <= $1 AND off IS NULL GROUP BY oid, blk, chunk) k " +
                    "WHERE c.oid = k.oid AND c.blk = k.blk AND c.chunk = k.chunk AND c.tid < k.keep") { Parameters = { new() { Value = Db(beforeTid) } } },
                // A hole chunk that is now the oldest version of its chunk shadows nothing.
                new("DELETE FROM wcfs_chunks c WHERE c.data IS NULL AND c.off IS NULL AND c.tid <= $1 AND NOT EXISTS " +
                    "(SELECT 1 FROM wcfs_chunks o WHERE o.oid = c.oid AND o.blk = c.blk AND o.chunk = c.chunk AND o.tid < c.tid)") { Parameters = { new() { Value = Db(beforeTid) } } },
            },
        };
        batch.ExecuteNonQuery();
        tx.Commit();
        return 0;
    });

    /// <inheritdoc />
    public void Reclaim() => Run("reclaim space", conn =>
    {
        // Plain VACUUM: freed space becomes reusable and trailing pages go back to the file system,
        // without VACUUM FULL's exclusive lock (which would stall every reader while it rewrites).
        using var cmd = new NpgsqlCommand("VACUUM wcfs_chunks, wcfs_blocks, wcfs_objects", conn) { CommandTimeout = 0 };
        cmd.ExecuteNonQuery();
        return 0;
    });

    /// <inheritdoc />
    public IReadOnlyList<FileUsage> Usage() => Run("measure usage", conn =>
    {
        using var cmd = new NpgsqlCommand(
            "SELECT oid, sum(CASE WHEN newest THEN len ELSE 0 END)::bigint, sum(CASE WHEN newest THEN 0 ELSE len END)::bigint " +
            "FROM (SELECT oid, coalesce(octet_length(data), 0) AS len, " +
            "tid >= max(CASE WHEN off IS NULL THEN tid END) OVER (PARTITION BY oid, blk, chunk) AS newest FROM wcfs_chunks) v " +
            "GROUP BY oid ORDER BY oid", conn);
        var list = new List<FileUsage>();
        using var r = cmd.ExecuteReader();
        while (r.Read())
            list.Add(new FileUsage(new Oid((ulong)r.GetInt64(0)), r.GetInt64(1), r.GetInt64(2)));
        return list;
    });

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed.IsCancellationRequested)
            return;
        _disposed.Cancel();
        _pool.Dispose();
        _disposed.Dispose();
    }

    /// <summary>A tid as the database's bigint; clamps "as of newest" values (invariant (5)).</summary>
    internal static long Db(Tid t) => t.Value > long.MaxValue ? long.MaxValue : (long)t.Value;

    /// <summary>True when <paramref name="e"/> means the connection to the server broke or could not be made.</summary>
    internal static bool IsConnectionFailure(Exception e) => e switch
    {
        PostgresException p => p.SqlState.StartsWith("08", StringComparison.Ordinal) || p.SqlState is "57P01" or "57P02" or "57P03",
        NpgsqlException n => n.InnerException is IOException or SocketException or TimeoutException || n.IsTransient,
        IOException or SocketException => true,
        _ => false,
    };

    private NpgsqlConnection OpenForSetup()
    {
        try
        {
            return _pool.OpenConnection();
        }
        catch (PostgresException e) when (e.SqlState is "28P01" or "28000")
        {
            throw new StorageException($"cannot open {Url}: authentication failed ({e.MessageText}); check the user and password", e);
        }
        catch (PostgresException e) when (e.SqlState == "3D000")
        {
            throw new StorageException($"cannot open {Url}: {e.MessageText}; create it first (createdb)", e);
        }
        catch (Exception e) when (e is NpgsqlException or SocketException or TimeoutException)
        {
            throw new StorageException($"cannot open {Url}: server unreachable ({Innermost(e).Message})", e);
        }
    }

    /// <summary>Runs <paramref name="body"/> on a pooled connection, retrying on connection failures.</summary>
    private T Run<T>(string what, Func<NpgsqlConnection, T> body)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var deadline = Stopwatch.StartNew();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var conn = _pool.OpenConnection();
                return body(conn);
            }
            catch (Exception e) when (e is not (StorageException or ConflictException or ObjectDisposedException))
            {
                BackoffOrThrow(e, what, attempt, deadline);
            }
        }
    }

    /// <summary>
    /// Handles a failed attempt (called from a catch block): returns after a backoff for a connection
    /// failure within ReconnectTimeout (the caller retries); otherwise throws a StorageException
    /// naming the cause.
    /// </summary>
    private void BackoffOrThrow(Exception e, string what, int attempt, Stopwatch elapsed)
    {
        if (IsConnectionFailure(e))
        {
            _pool.Clear(); // a restarted server leaves dead idle connections: drop them all at once
            if (elapsed.Elapsed < Options.ReconnectTimeout && !_disposed.IsCancellationRequested)
            {
                Thread.Sleep(Backoff(attempt));
                return;
            }
            throw new StorageException($"cannot {what}: no working connection to {Url} for {elapsed.Elapsed.TotalSeconds:F0}s (last error: {Innermost(e).Message})", e);
        }
        if (e is PostgresException p)
            throw new StorageException($"cannot {what} in {Url}: {p.MessageText} (SQLSTATE {p.SqlState})", e);
        if (e is NpgsqlException)
            throw new StorageException($"cannot {what} in {Url}: {Innermost(e).Message}", e);
        ExceptionDispatchInfo.Capture(e).Throw(); // a bug stays a bug
    }

    /// <summary>Reconnect backoff: 50 ms doubling up to 1 s.</summary>
    internal static TimeSpan Backoff(int attempt) => TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(attempt, 5)));

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is { } inner)
            e = inner;
        return e;
    }
}
