// SqliteSchema - the on-disk layout of a wcfs SQLite database and the checks made before using one.
//
// Layout (schema version 1; decided by measurement, docs/NOTES.md "Storage: SQLite blob layout"):
//   PRAGMA application_id = 0x57434653 ('WCFS'), PRAGMA user_version = 1, page_size = 64 KiB, WAL.
//   meta(key, value)                       magic = "wcfs-actors storage", schema = 1, next_oid
//   txn(tid PRIMARY KEY, changes)          one row per commit: the change record (ChangeRecordCodec)
//   obj(oid, tid, kind, state)             object versions; kind 0 = deleted; WITHOUT ROWID (small rows)
//   blk(oid, blk, tid, data) + UNIQUE(oid, blk, tid)
//                                          block versions in a rowid table with the data inline;
//                                          data NULL = hole, trailing zeros trimmed.
//
// Refusal rules (nothing is ever written to a file that failed a check):
//   - not a SQLite file (header)            → "not a SQLite database"
//   - SQLite but application_id is not ours → "not a wcfs database"
//   - user_version newer than SchemaVersion → "newer schema; upgrade wcfs"
//   - user_version older                    → refused (no migration exists yet)
//   - an empty SQLite file (no tables, application_id 0) is initialized.
// The checks run on a read-only connection before the read-write one is opened.
using Microsoft.Data.Sqlite;

namespace Wcfs.Actors.Storage;

internal static class SqliteSchema
{
    public const int ApplicationId = 0x57434653; // 'WCFS'
    public const int SchemaVersion = 1;
    public const string Magic = "wcfs-actors storage";

    /// <summary>64 KiB pages: 2 MiB blobs read ~1.5x faster than with 4 KiB pages (docs/NOTES.md).</summary>
    public const int PageSize = 65536;

    private static ReadOnlySpan<byte> SqliteHeader => "SQLite format 3\0"u8;

    public const string CreateSql = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE TABLE txn(tid INTEGER PRIMARY KEY, changes BLOB NOT NULL);
        CREATE TABLE obj(oid INTEGER NOT NULL, tid INTEGER NOT NULL, kind INTEGER NOT NULL, state BLOB,
                         PRIMARY KEY(oid, tid)) WITHOUT ROWID;
        CREATE TABLE blk(oid INTEGER NOT NULL, blk INTEGER NOT NULL, tid INTEGER NOT NULL, data BLOB);
        CREATE UNIQUE INDEX blk_version ON blk(oid, blk, tid);
        """;

    /// <summary>What an existing file holds.</summary>
    public enum FileState
    {
        /// <summary>Absent, zero-length, or an SQLite database without tables: ours to initialize.</summary>
        Empty,
        /// <summary>A wcfs database of the current schema.</summary>
        Ours,
    }

    /// <summary>Checks the file at <paramref name="path"/> without writing to it.</summary>
    /// <exception cref="StorageException">The file is not usable; the message names the cause.</exception>
    public static FileState Inspect(string path)
    {
        if (Directory.Exists(path))
            throw new StorageException($"{path} is a directory, not a database file");
        if (!File.Exists(path))
            return FileState.Empty;
        var header = new byte[16];
        int n;
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            n = f.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StorageException($"cannot read {path}: {e.Message}", e);
        }
        if (n == 0)
            return FileState.Empty;
        if (n < header.Length || !header.AsSpan().SequenceEqual(SqliteHeader))
            throw new StorageException($"{path} is not a SQLite database (no SQLite header); refusing to touch it");
        return InspectSqlite(path);
    }

    private static FileState InspectSqlite(string path)
    {
        try
        {
            using var c = new SqliteConnection(new SqliteConnectionStringBuilder
            {
                DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false,
            }.ToString());
            c.Open();
            var appId = Scalar(c, "PRAGMA application_id");
            var version = Scalar(c, "PRAGMA user_version");
            if (appId == 0 && version == 0 && Scalar(c, "SELECT count(*) FROM sqlite_master") == 0)
                return FileState.Empty;
            if (appId != ApplicationId)
                throw new StorageException($"{path} is not a wcfs database (SQLite application_id 0x{appId:x8}, expected 0x{ApplicationId:x8}); refusing to touch it");
            if (version > SchemaVersion)
                throw new StorageException($"{path} has wcfs schema version {version}, newer than this wcfs supports ({SchemaVersion}); upgrade wcfs");
            if (version < SchemaVersion)
                throw new StorageException($"{path} has wcfs schema version {version}, older than {SchemaVersion}, and no migration exists; refusing to touch it");
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT value FROM meta WHERE key = 'magic'";
            if (cmd.ExecuteScalar() as string != Magic)
                throw new StorageException($"{path} is not a wcfs database (meta magic missing); refusing to touch it");
            return FileState.Ours;
        }
        catch (SqliteException e)
        {
            throw new StorageException($"{path} is corrupt or unreadable: {e.Message}", e);
        }
    }

    /// <summary>Creates the schema inside the caller's write transaction on an empty database.</summary>
    public static void Create(SqliteConnection c)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = CreateSql + $"""

            INSERT INTO meta(key, value) VALUES ('magic', '{Magic}'), ('schema', {SchemaVersion}), ('next_oid', 1);
            PRAGMA application_id = {ApplicationId};
            PRAGMA user_version = {SchemaVersion};
            """;
        cmd.ExecuteNonQuery();
    }

    public static long Scalar(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar() switch
        {
            long l => l,
            null or DBNull => 0,
            var o => Convert.ToInt64(o, System.Globalization.CultureInfo.InvariantCulture),
        };
    }
}
