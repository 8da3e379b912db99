// SqliteConnectionPool - connections of one SqliteStorage, each configured once, reused by threads.
//
// A connection is used by one thread at a time (Rent ... Return). Each keeps its prepared
// statements, so a hot read is one bind + step + copy. Connections are opened lazily; the pool
// never blocks: if all are rented, a new one is opened.
using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Wcfs.Actors.Storage;

internal sealed class SqliteConnectionPool : IDisposable
{
    private readonly string _connectionString;
    private readonly ConcurrentBag<PooledSqliteConnection> _idle = [];
    private readonly ConcurrentDictionary<PooledSqliteConnection, byte> _all = new();
    private volatile bool _disposed;

    public SqliteConnectionPool(string path)
    {
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            Cache = SqliteCacheMode.Private,
            DefaultTimeout = (int)SqliteStorage.BusyTimeout.TotalSeconds,
        }.ToString();
    }

    /// <summary>A new, configured connection that does not belong to the pool (caller disposes).</summary>
    public PooledSqliteConnection OpenDedicated() => new(_connectionString);

    public PooledSqliteConnection Rent()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryTake(out var c))
            return c;
        c = new PooledSqliteConnection(_connectionString);
        _all[c] = 0;
        return c;
    }

    public void Return(PooledSqliteConnection c)
    {
        if (_disposed || c.Broken)
        {
            _all.TryRemove(c, out _);
            c.Dispose();
            return;
        }
        _idle.Add(c);
    }

    /// <summary>Bytes held by the page caches of the idle connections (SQLITE_DBSTATUS_CACHE_USED; diagnostics, tests).</summary>
    public long IdlePageCacheBytes() => _idle.Sum(c =>
    {
        raw.sqlite3_db_status(c.Connection.Handle!, raw.SQLITE_DBSTATUS_CACHE_USED, out var current, out _, 0);
        return (long)current;
    });

    public void Dispose()
    {
        _disposed = true;
        foreach (var c in _all.Keys)
            c.Dispose();
        _all.Clear();
    }
}

/// <summary>One configured connection with its cached statements.</summary>
internal sealed class PooledSqliteConnection : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = [];
    private readonly Dictionary<string, sqlite3_stmt> _raw = [];

    public PooledSqliteConnection(string connectionString)
    {
        Connection = new SqliteConnection(connectionString);
        Connection.Open();
        using var cmd = Connection.CreateCommand();
        // synchronous=FULL: WAL is fsynced at every commit, so Commit returning means durable
        // (NORMAL would only be durable against process crashes, not power loss).
        // cache_size in pages (128 x 64 KiB = 8 MiB): the KiB form (-8192) set here, before the
        // connection has read the file's page size, left each connection caching ~2000 pages
        // (125 MiB, measured with sqlite3_memory_used), and filling that much fresh memory made a
        // 256 MiB commit run at 0.5x a raw INSERT (docs/NOTES.md "Data path").
        // wal_autocheckpoint = 4096 pages (256 MiB): checkpoints run off the commit path
        // (SqliteStorage.Checkpoint.cs); the automatic one stays as the backstop for a WAL grown by
        // many short-lived committers, each below its own mark.
        cmd.CommandText = $"""
            PRAGMA busy_timeout = {(int)SqliteStorage.BusyTimeout.TotalMilliseconds};
            PRAGMA synchronous = FULL;
            PRAGMA cache_size = 128;
            PRAGMA journal_size_limit = {64 << 20};
            PRAGMA wal_autocheckpoint = 4096;
            """;
        cmd.ExecuteNonQuery();
    }

    public SqliteConnection Connection { get; }

    /// <summary>Set when the connection may be left inside a transaction; it is then closed, not reused.</summary>
    public bool Broken { get; set; }

    /// <summary>A prepared command for <paramref name="sql"/> whose parameters are named $a, $b, ... in order.</summary>
    public SqliteCommand Command(string sql, params string[] parameters)
    {
        if (_commands.TryGetValue(sql, out var cmd))
            return cmd;
        cmd = Connection.CreateCommand();
        cmd.CommandText = sql;
        foreach (var p in parameters)
            cmd.Parameters.Add(new SqliteParameter(p, SqliteType.Integer));
        cmd.Prepare();
        _commands[sql] = cmd;
        return cmd;
    }

    /// <summary>A raw prepared statement (for reads that copy a blob straight into the caller's span).</summary>
    public sqlite3_stmt Raw(string sql)
    {
        if (_raw.TryGetValue(sql, out var stmt))
            return stmt;
        var rc = raw.sqlite3_prepare_v2(Connection.Handle, sql, out stmt);
        if (rc != raw.SQLITE_OK)
            throw new StorageException($"cannot prepare \"{sql}\": {raw.sqlite3_errmsg(Connection.Handle).utf8_to_string()}");
        _raw[sql] = stmt;
        return stmt;
    }

    public void Execute(string sql)
    {
        using var cmd = Connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    public void Dispose()
    {
        foreach (var s in _raw.Values)
            s.Dispose();
        _raw.Clear();
        foreach (var c in _commands.Values)
            c.Dispose();
        _commands.Clear();
        Connection.Dispose();
    }
}
