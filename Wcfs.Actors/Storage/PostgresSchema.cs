// PostgresSchema - creates, recognizes and versions the tables of PostgresStorage.
//
// The database records its format and schema version in wcfs_meta. At open, under a transaction-
// scoped advisory lock (so two first openers do not both create), in the connection's current
// schema (the first of search_path):
//   - wcfs_meta present, our format, version == Version  → use it;
//   - wcfs_meta present, our format, version 1 or 2       → migrate to Version in place (one
//                                                           transaction: all or nothing);
//   - wcfs_meta present, our format, another version      → refuse, naming both versions;
//   - wcfs_meta present but not ours / unreadable         → refuse as foreign;
//   - no wcfs_meta, other relations present               → refuse as foreign (nothing written);
//   - nothing there                                       → create schema Version.
//
// Tables (version 3). tids and oids are stored as bigint (their ulong value reinterpreted; real
// tids and oids stay below 2^63, so the signed order is the tid order):
//   wcfs_head(id = 1, last_tid)                  the one row every commit locks (serializes writers)
//   wcfs_commits(tid, token, objects, block_oids, block_nums)
//                                                change record + commit token of every commit
//   wcfs_objects(oid, tid, kind, data)           data NULL = deleted at tid
//   wcfs_blocks(oid, blk, tid)                   block versions (serials, sizes; deletions too)
//   wcfs_chunks(oid, blk, chunk, tid, data, off, depth, hash)
//                                                chunk versions (BlockChunks.cs: only chunks that
//                                                changed are stored); off NULL: whole (data NULL =
//                                                hole chunk, trailing zeros trimmed); off set: an
//                                                append delta (the bytes from off on, ChunkDeltas.cs);
//                                                hash = SHA-256 of the chunk's content after a
//                                                delta (NULL for whole rows: their content is
//                                                their data, hashed when needed)
//   wcfs_oid_seq                                 oid allocation (never reused, even on rollback)
// wcfs_meta also holds chunk_size (fixed at creation or migration). Schema 1 kept whole blocks in
// wcfs_blocks(oid, blk, tid, data); the migration splits them into chunks. Schema 2 had wcfs_chunks
// without off, depth and hash: its rows are whole versions, so the migration only adds the columns.
using Npgsql;

namespace Wcfs.Actors.Storage;

/// <summary>Schema creation and checks of the PostgreSQL backend.</summary>
internal static class PostgresSchema
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int Version = 3;

    /// <summary>The value of wcfs_meta.format that marks our database.</summary>
    public const string Format = "wcfs-actors storage";

    /// <summary>Key of the advisory lock held while checking or creating the schema.</summary>
    private const long SchemaLockKey = 0x77636673_73636865; // "wcfsschema"-ish; only needs to be unique per database

    private static readonly string[] CreateStatements =
    [
        "CREATE TABLE wcfs_meta (key text PRIMARY KEY, value text NOT NULL)",
        "CREATE TABLE wcfs_head (id int PRIMARY KEY CHECK (id = 1), last_tid bigint NOT NULL)",
        "INSERT INTO wcfs_head VALUES (1, 0)",
        "CREATE SEQUENCE wcfs_oid_seq START 1",
        """
        CREATE TABLE wcfs_commits (
            tid bigint PRIMARY KEY,
            token uuid NOT NULL UNIQUE,
            committed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            objects bigint[] NOT NULL,
            block_oids bigint[] NOT NULL,
            block_nums bigint[] NOT NULL)
        """,
        "CREATE TABLE wcfs_objects (oid bigint NOT NULL, tid bigint NOT NULL, kind smallint NOT NULL, data bytea, PRIMARY KEY (oid, tid))",
    ];

    /// <summary>The block tables of schema 3 (created new, or by the migration from 1).</summary>
    private static readonly string[] BlockTables =
    [
        "CREATE TABLE wcfs_blocks (oid bigint NOT NULL, blk bigint NOT NULL, tid bigint NOT NULL, PRIMARY KEY (oid, blk, tid))",
        "CREATE TABLE wcfs_chunks (oid bigint NOT NULL, blk bigint NOT NULL, chunk int NOT NULL, tid bigint NOT NULL, data bytea, " +
        "off int, depth int NOT NULL DEFAULT 0, hash bytea, PRIMARY KEY (oid, blk, chunk, tid))",
    ];

    /// <summary>
    /// How 2 MiB block values are toasted: lz4 where the server has it (as fast as uncompressed,
    /// 2.5x smaller on array-like data), else uncompressed (PostgreSQL's default pglz stores
    /// compressible 2 MiB values at ~1.4 MB/s). Measured with `wcfs bench pg-toast`: docs/NOTES.md.
    /// </summary>
    private const string BlockStorageLz4 = "ALTER TABLE wcfs_chunks ALTER COLUMN data SET STORAGE EXTENDED, ALTER COLUMN data SET COMPRESSION lz4";
    private const string BlockStorageExternal = "ALTER TABLE wcfs_chunks ALTER COLUMN data SET STORAGE EXTERNAL";

    /// <summary>Checks the schema of the database behind <paramref name="conn"/>; creates it in an empty one.</summary>
    /// <exception cref="StorageException">Foreign tables, another schema version, or no right to create.</exception>
    public static void Ensure(NpgsqlConnection conn, string url, int chunkSize)
    {
        using var tx = conn.BeginTransaction();
        Exec(conn, tx, $"SELECT pg_advisory_xact_lock({SchemaLockKey})");
        var schema = Scalar<string?>(conn, tx, "SELECT current_schema()")
            ?? throw new StorageException($"cannot use {url}: no current schema (search_path is empty)");
        var relations = new List<string>();
        using (var cmd = new NpgsqlCommand(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
            "WHERE n.nspname = current_schema() AND c.relkind IN ('r','p','v','m','S','f') ORDER BY c.relname", conn, tx))
        using (var r = cmd.ExecuteReader())
            while (r.Read())
                relations.Add(r.GetString(0));

        if (relations.Contains("wcfs_meta"))
        {
            switch (CheckMeta(conn, tx, url, schema))
            {
                case 1:
                    Migrate(conn, tx, url, schema, chunkSize);
                    break;
                case 2:
                    MigrateFromTwo(conn, tx, url, schema);
                    break;
            }
            tx.Commit();
            return;
        }
        if (relations.Count > 0)
            throw new StorageException(
                $"refusing to use {url}: schema \"{schema}\" holds other tables ({string.Join(", ", relations.Take(5))}" +
                $"{(relations.Count > 5 ? ", ..." : "")}) and no wcfs tables; point the URL at an empty database");
        try
        {
            foreach (var sql in CreateStatements.Concat(BlockTables))
                Exec(conn, tx, sql);
            SetChunkStorage(conn, tx);
            Exec(conn, tx, $"INSERT INTO wcfs_meta VALUES ('format', '{Format}'), ('schema_version', '{Version}'), ('chunk_size', '{chunkSize}')");
            tx.Commit();
        }
        catch (PostgresException e)
        {
            throw new StorageException($"cannot create the wcfs tables in {url} (schema \"{schema}\"): {e.MessageText}", e);
        }
    }

    /// <summary>Whether an older schema is migrated in place (1 and 2 are).</summary>
    public static bool IsMigratable(int version) => version is 1 or 2;

    private static void SetChunkStorage(NpgsqlConnection conn, NpgsqlTransaction tx)
    {
        var lz4 = Scalar<bool?>(conn, tx,
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'") == true;
        Exec(conn, tx, lz4 ? BlockStorageLz4 : BlockStorageExternal);
    }

    /// <summary>The chunk size recorded in wcfs_meta.</summary>
    public static int ChunkSize(NpgsqlConnection conn, string url)
    {
        using var cmd = new NpgsqlCommand("SELECT value FROM wcfs_meta WHERE key = 'chunk_size'", conn);
        var v = cmd.ExecuteScalar() as string;
        return int.TryParse(v, out var n) && BlockChunks.IsValidChunkSize(n)
            ? n
            : throw new StorageException($"refusing to use {url}: invalid chunk size \"{v}\" in wcfs_meta");
    }

    /// <summary>Schema 2 → 3 inside the caller's transaction: the delta columns (every row stays a whole version).</summary>
    private static void MigrateFromTwo(NpgsqlConnection conn, NpgsqlTransaction tx, string url, string schema)
    {
        try
        {
            Exec(conn, tx, "ALTER TABLE wcfs_chunks ADD COLUMN off int, ADD COLUMN depth int NOT NULL DEFAULT 0, ADD COLUMN hash bytea");
            Exec(conn, tx, $"UPDATE wcfs_meta SET value = '{Version}' WHERE key = 'schema_version'");
        }
        catch (PostgresException e)
        {
            throw new StorageException($"cannot migrate {url} (schema \"{schema}\") from schema version 2 to {Version}: {e.MessageText}; nothing was changed", e);
        }
    }

    /// <summary>
    /// Schema 1 → 3 inside the caller's transaction: each whole-block version becomes a block row
    /// plus the chunks that differ from the block's previous version (BlockChunks.cs), whole.
    /// </summary>
    private static void Migrate(NpgsqlConnection conn, NpgsqlTransaction tx, string url, string schema, int chunkSize)
    {
        try
        {
            Exec(conn, tx, "ALTER TABLE wcfs_blocks RENAME TO wcfs_blocks_v1");
            Exec(conn, tx, "ALTER INDEX wcfs_blocks_pkey RENAME TO wcfs_blocks_v1_pkey");
            foreach (var sql in BlockTables)
                Exec(conn, tx, sql);
            SetChunkStorage(conn, tx);
            Exec(conn, tx, "INSERT INTO wcfs_blocks (oid, blk, tid) SELECT oid, blk, tid FROM wcfs_blocks_v1");
            var rows = new List<(long Oid, long Blk, int Chunk, long Tid, byte[]? Data)>();
            using (var cmd = new NpgsqlCommand("SELECT oid, blk, tid, data FROM wcfs_blocks_v1 ORDER BY oid, blk, tid", conn, tx))
            using (var r = cmd.ExecuteReader())
            {
                (long, long) current = (-1, -1);
                var previous = new List<byte[]>();
                while (r.Read())
                {
                    var key = (r.GetInt64(0), r.GetInt64(1));
                    if (key != current)
                    {
                        current = key;
                        previous.Clear();
                    }
                    var data = r.IsDBNull(3) ? [] : r.GetFieldValue<byte[]>(3);
                    var count = Math.Max(previous.Count, (data.Length + chunkSize - 1) / chunkSize);
                    for (var k = 0; k < count; k++)
                    {
                        var now = BlockChunks.Chunk(data, chunkSize, k);
                        if (!now.SequenceEqual(k < previous.Count ? previous[k] : []))
                            rows.Add((key.Item1, key.Item2, k, r.GetInt64(2), now.IsEmpty ? null : now.ToArray()));
                    }
                    previous.Clear();
                    for (var k = 0; k < count; k++)
                        previous.Add(BlockChunks.Chunk(data, chunkSize, k).ToArray());
                }
            }
            using (var copy = conn.BeginBinaryImport("COPY wcfs_chunks (oid, blk, chunk, tid, data) FROM STDIN (FORMAT BINARY)"))
            {
                foreach (var (oid, blk, chunk, tid, data) in rows)
                {
                    copy.StartRow();
                    copy.Write(oid, NpgsqlTypes.NpgsqlDbType.Bigint);
                    copy.Write(blk, NpgsqlTypes.NpgsqlDbType.Bigint);
                    copy.Write(chunk, NpgsqlTypes.NpgsqlDbType.Integer);
                    copy.Write(tid, NpgsqlTypes.NpgsqlDbType.Bigint);
                    if (data is null)
                        copy.WriteNull();
                    else
                        copy.Write(data, NpgsqlTypes.NpgsqlDbType.Bytea);
                }
                copy.Complete();
            }
            Exec(conn, tx, "DROP TABLE wcfs_blocks_v1");
            Exec(conn, tx, $"UPDATE wcfs_meta SET value = '{Version}' WHERE key = 'schema_version'");
            Exec(conn, tx, $"INSERT INTO wcfs_meta VALUES ('chunk_size', '{chunkSize}')");
        }
        catch (PostgresException e)
        {
            throw new StorageException($"cannot migrate {url} (schema \"{schema}\") from schema version 1 to {Version}: {e.MessageText}; nothing was changed", e);
        }
    }

    /// <summary>Checks wcfs_meta; returns the schema version (Version, or an older one to migrate).</summary>
    private static int CheckMeta(NpgsqlConnection conn, NpgsqlTransaction tx, string url, string schema)
    {
        string? format = null, version = null;
        try
        {
            using var cmd = new NpgsqlCommand("SELECT key::text, value::text FROM wcfs_meta WHERE key::text IN ('format', 'schema_version')", conn, tx);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                if (r.GetString(0) == "format")
                    format = r.IsDBNull(1) ? null : r.GetString(1);
                else
                    version = r.IsDBNull(1) ? null : r.GetString(1);
            }
        }
        catch (PostgresException e)
        {
            throw new StorageException($"refusing to use {url}: table \"{schema}.wcfs_meta\" is not ours ({e.MessageText})", e);
        }
        if (format != Format)
            throw new StorageException($"refusing to use {url}: table \"{schema}.wcfs_meta\" is not ours (format \"{format}\", expected \"{Format}\")");
        if (!int.TryParse(version, out var v))
            throw new StorageException($"refusing to use {url}: unreadable schema version \"{version}\"");
        if (v > Version)
            throw new StorageException($"refusing to use {url}: its schema version {v} is newer than this build's {Version}; upgrade wcfs-actors");
        if (v < Version && !IsMigratable(v))
            throw new StorageException($"refusing to use {url}: its schema version {v} is older than this build's {Version} and no migration exists");
        return v;
    }

    private static void Exec(NpgsqlConnection conn, NpgsqlTransaction tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, conn, tx);
        cmd.ExecuteNonQuery();
    }

    private static T Scalar<T>(NpgsqlConnection conn, NpgsqlTransaction tx, string sql)
    {
        using var cmd = new NpgsqlCommand(sql, conn, tx);
        var v = cmd.ExecuteScalar();
        return v is null or DBNull ? default! : (T)v;
    }
}
