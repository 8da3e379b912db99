// SqliteSchema - the on-disk layout of a wcfs SQLite database and the checks made before using one.
//
// Layout (schema version 3; decided by measurement, docs/NOTES.md "Storage: SQLite blob layout" and
// "Storage (issue 15)"):
//   PRAGMA application_id = 0x57434653 ('WCFS'), PRAGMA user_version = 3, page_size = 64 KiB, WAL.
//   meta(key, value)                       magic = "wcfs-actors storage", schema = 3, next_oid,
//                                          chunk_size (bytes; fixed at creation or migration)
//   txn(tid PRIMARY KEY, changes)          one row per commit: the change record (ChangeRecordCodec)
//   obj(oid, tid, kind, state)             object versions; kind 0 = deleted; WITHOUT ROWID (small rows)
//   block(oid, blk, tid)                   block versions (serials, sizes; deletions too); WITHOUT ROWID
//   chunk(oid, blk, chunk, tid, data, off, depth) + UNIQUE(oid, blk, chunk, tid)
//                                          chunk versions (BlockChunks.cs: only chunks that changed
//                                          are stored) in a rowid table with the data inline;
//                                          off NULL: a whole version (data NULL = hole chunk,
//                                          trailing zeros trimmed), depth 0; off set: a delta, the
//                                          bytes [off, off + length(data)) laid over the version
//                                          before it, depth = that version's depth + 1 (ChunkDeltas.cs).
// Schema 1 had one table blk(oid, blk, tid, data) holding whole blocks; schema 2 had chunk without
// off and depth (whole versions only). Migrate turns either into schema 3 in place (one write
// transaction: all or nothing); a schema 2 database keeps its rows, which are all whole versions.
//
// Refusal rules (nothing is ever written to a file that failed a check):
//   - not a SQLite file (header)            → "not a SQLite database"
//   - SQLite but application_id is not ours → "not a wcfs database"
//   - user_version newer than SchemaVersion → "newer schema; upgrade wcfs"
//   - user_version 1 or 2 with our magic    → migrated to 3 at open (any other older one: refused)
//   - an empty SQLite file (no tables, application_id 0) is initialized.
// The checks run on a read-only connection before the read-write one is opened.
using Microsoft.Data.Sqlite;

namespace Wcfs.Actors.Storage;

internal static class SqliteSchema
{
    public const int ApplicationId = 0x57434653; // 'WCFS'
    public const int SchemaVersion = 3;

    /// <summary>Whether an older schema is migrated in place (1 and 2 are).</summary>
    public static bool IsMigratable(long version) => version is 1 or 2;
    public const string Magic = "wcfs-actors storage";

    /// <summary>64 KiB pages: 2 MiB blobs read ~1.5x faster than with 4 KiB pages (docs/NOTES.md).</summary>
    public const int PageSize = 65536;

    private static ReadOnlySpan<byte> SqliteHeader => "SQLite format 3\0"u8;

    public const string CreateSql = """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;
        CREATE TABLE txn(tid INTEGER PRIMARY KEY, changes BLOB NOT NULL);
        CREATE TABLE obj(oid INTEGER NOT NULL, tid INTEGER NOT NULL, kind INTEGER NOT NULL, state BLOB,
                         PRIMARY KEY(oid, tid)) WITHOUT ROWID;
        CREATE TABLE block(oid INTEGER NOT NULL, blk INTEGER NOT NULL, tid INTEGER NOT NULL,
                           PRIMARY KEY(oid, blk, tid)) WITHOUT ROWID;
        CREATE TABLE chunk(oid INTEGER NOT NULL, blk INTEGER NOT NULL, chunk INTEGER NOT NULL, tid INTEGER NOT NULL,
                           off INTEGER, depth INTEGER NOT NULL DEFAULT 0, data BLOB);
        CREATE UNIQUE INDEX chunk_version ON chunk(oid, blk, chunk, tid);
        """;

    /// <summary>What an existing file holds.</summary>
    public enum FileState
    {
        /// <summary>Absent, zero-length, or an SQLite database without tables: ours to initialize.</summary>
        Empty,
        /// <summary>A wcfs database of the current schema.</summary>
        Ours,
        /// <summary>A wcfs database of an older schema that <see cref="IsMigratable"/>: migrated at open.</summary>
        Migratable,
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
            if (version < SchemaVersion && !IsMigratable(version))
                throw new StorageException($"{path} has wcfs schema version {version}, older than {SchemaVersion}, and no migration exists; refusing to touch it");
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT value FROM meta WHERE key = 'magic'";
            if (cmd.ExecuteScalar() as string != Magic)
                throw new StorageException($"{path} is not a wcfs database (meta magic missing); refusing to touch it");
            if (version == 1)
            {
                cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'blk'";
                if (Convert.ToInt64(cmd.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 1)
                    throw new StorageException($"{path} claims wcfs schema version 1 but has no blk table; refusing to touch it");
                return FileState.Migratable;
            }
            return version < SchemaVersion ? FileState.Migratable : FileState.Ours;
        }
        catch (SqliteException e)
        {
            throw new StorageException($"{path} is corrupt or unreadable: {e.Message}", e);
        }
    }

    /// <summary>Creates the schema inside the caller's write transaction on an empty database.</summary>
    public static void Create(SqliteConnection c, int chunkSize)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = CreateSql + $"""

            INSERT INTO meta(key, value) VALUES ('magic', '{Magic}'), ('schema', {SchemaVersion}), ('next_oid', 1), ('chunk_size', {chunkSize});
            PRAGMA application_id = {ApplicationId};
            PRAGMA user_version = {SchemaVersion};
            """;
        cmd.ExecuteNonQuery();
    }

    /// <summary>
    /// Turns a schema 1 or 2 database into schema 3 inside the caller's write transaction. From 1:
    /// every whole-block version of blk becomes a block row plus the chunks that differ from that
    /// block's previous version (whole versions); blk is dropped. From 2: chunk gains off and depth
    /// (every existing row is a whole version: off NULL, depth 0). Returns the number of block
    /// versions converted from schema 1 (0 from schema 2).
    /// </summary>
    public static long Migrate(SqliteConnection c, int chunkSize)
    {
        var version = Scalar(c, "PRAGMA user_version");
        var versions = version == 1 ? MigrateFromOne(c, chunkSize) : 0;
        Exec(c, $"""
            ALTER TABLE chunk ADD COLUMN off INTEGER;
            ALTER TABLE chunk ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;
            UPDATE meta SET value = {SchemaVersion} WHERE key = 'schema';
            PRAGMA user_version = {SchemaVersion};
            """);
        return versions;
    }

    /// <summary>Schema 1 → 2 (whole blocks → block rows + whole chunk versions).</summary>
    private static long MigrateFromOne(SqliteConnection c, int chunkSize)
    {
        Exec(c, """
            CREATE TABLE block(oid INTEGER NOT NULL, blk INTEGER NOT NULL, tid INTEGER NOT NULL,
                               PRIMARY KEY(oid, blk, tid)) WITHOUT ROWID;
            CREATE TABLE chunk(oid INTEGER NOT NULL, blk INTEGER NOT NULL, chunk INTEGER NOT NULL, tid INTEGER NOT NULL, data BLOB);
            CREATE UNIQUE INDEX chunk_version ON chunk(oid, blk, chunk, tid);
            INSERT INTO block(oid, blk, tid) SELECT oid, blk, tid FROM blk;
            """);
        using var insert = c.CreateCommand();
        insert.CommandText = "INSERT INTO chunk(oid, blk, chunk, tid, data) VALUES ($o, $b, $k, $t, $d)";
        var po = insert.Parameters.Add("$o", SqliteType.Integer);
        var pb = insert.Parameters.Add("$b", SqliteType.Integer);
        var pk = insert.Parameters.Add("$k", SqliteType.Integer);
        var pt = insert.Parameters.Add("$t", SqliteType.Integer);
        var pd = insert.Parameters.Add("$d", SqliteType.Blob);
        using var read = c.CreateCommand();
        read.CommandText = "SELECT oid, blk, tid, data FROM blk ORDER BY oid, blk, tid";
        long versions = 0;
        (long Oid, long Blk) current = (-1, -1);
        var previous = new List<byte[]>(); // trimmed chunks of the block's previous version
        using (var r = read.ExecuteReader())
        {
            while (r.Read())
            {
                var key = (r.GetInt64(0), r.GetInt64(1));
                if (key != current)
                {
                    current = key;
                    previous.Clear();
                }
                var data = r.IsDBNull(3) ? [] : (byte[])r.GetValue(3);
                var count = Math.Max(previous.Count, (data.Length + chunkSize - 1) / chunkSize);
                for (var k = 0; k < count; k++)
                {
                    var now = BlockChunks.Chunk(data, chunkSize, k);
                    var before = k < previous.Count ? previous[k] : [];
                    if (now.SequenceEqual(before))
                        continue;
                    po.Value = key.Item1;
                    pb.Value = key.Item2;
                    pk.Value = k;
                    pt.Value = r.GetInt64(2);
                    pd.Value = now.IsEmpty ? DBNull.Value : now.ToArray();
                    insert.ExecuteNonQuery();
                }
                previous.Clear();
                for (var k = 0; k < count; k++)
                    previous.Add(BlockChunks.Chunk(data, chunkSize, k).ToArray());
                versions++;
            }
        }
        Exec(c, $"""
            DROP TABLE blk;
            INSERT INTO meta(key, value) VALUES ('chunk_size', {chunkSize});
            """);
        return versions;
    }

    private static void Exec(SqliteConnection c, string sql)
    {
        using var cmd = c.CreateCommand();
        cmd.CommandText = sql;
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
