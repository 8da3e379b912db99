// PostgresSchema - creates, recognizes and versions the tables of PostgresStorage.
//
// The database records its format and schema version in wcfs_meta. At open, under a transaction-
// scoped advisory lock (so two first openers do not both create), in the connection's current
// schema (the first of search_path):
//   - wcfs_meta present, our format, version == Version  → use it;
//   - wcfs_meta present, our format, another version      → refuse, naming both versions;
//   - wcfs_meta present but not ours / unreadable         → refuse as foreign;
//   - no wcfs_meta, other relations present               → refuse as foreign (nothing written);
//   - nothing there                                       → create schema Version.
//
// Tables (version 1). tids and oids are stored as bigint (their ulong value reinterpreted; real
// tids and oids stay below 2^63, so the signed order is the tid order):
//   wcfs_head(id = 1, last_tid)                  the one row every commit locks (serializes writers)
//   wcfs_commits(tid, token, objects, block_oids, block_nums)
//                                                change record + commit token of every commit
//   wcfs_objects(oid, tid, kind, data)           data NULL = deleted at tid
//   wcfs_blocks(oid, blk, tid, data)             data NULL = hole at tid; trailing zeros trimmed
//   wcfs_oid_seq                                 oid allocation (never reused, even on rollback)
using Npgsql;

namespace Wcfs.Actors.Storage;

/// <summary>Schema creation and checks of the PostgreSQL backend.</summary>
internal static class PostgresSchema
{
    /// <summary>The schema version this build writes and reads.</summary>
    public const int Version = 1;

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
        "CREATE TABLE wcfs_blocks (oid bigint NOT NULL, blk bigint NOT NULL, tid bigint NOT NULL, data bytea, PRIMARY KEY (oid, blk, tid))",
    ];

    /// <summary>
    /// How 2 MiB block values are toasted: lz4 where the server has it (as fast as uncompressed,
    /// 2.5x smaller on array-like data), else uncompressed (PostgreSQL's default pglz stores
    /// compressible 2 MiB values at ~1.4 MB/s). Measured with `wcfs bench pg-toast`: docs/NOTES.md.
    /// </summary>
    private const string BlockStorageLz4 = "ALTER TABLE wcfs_blocks ALTER COLUMN data SET STORAGE EXTENDED, ALTER COLUMN data SET COMPRESSION lz4";
    private const string BlockStorageExternal = "ALTER TABLE wcfs_blocks ALTER COLUMN data SET STORAGE EXTERNAL";

    /// <summary>Checks the schema of the database behind <paramref name="conn"/>; creates it in an empty one.</summary>
    /// <exception cref="StorageException">Foreign tables, another schema version, or no right to create.</exception>
    public static void Ensure(NpgsqlConnection conn, string url)
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
            CheckMeta(conn, tx, url, schema);
            tx.Commit();
            return;
        }
        if (relations.Count > 0)
            throw new StorageException(
                $"refusing to use {url}: schema \"{schema}\" holds other tables ({string.Join(", ", relations.Take(5))}" +
                $"{(relations.Count > 5 ? ", ..." : "")}) and no wcfs tables; point the URL at an empty database");
        try
        {
            foreach (var sql in CreateStatements)
                Exec(conn, tx, sql);
            var lz4 = Scalar<bool?>(conn, tx,
                "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'") == true;
            Exec(conn, tx, lz4 ? BlockStorageLz4 : BlockStorageExternal);
            Exec(conn, tx, $"INSERT INTO wcfs_meta VALUES ('format', '{Format}'), ('schema_version', '{Version}')");
            tx.Commit();
        }
        catch (PostgresException e)
        {
            throw new StorageException($"cannot create the wcfs tables in {url} (schema \"{schema}\"): {e.MessageText}", e);
        }
    }

    private static void CheckMeta(NpgsqlConnection conn, NpgsqlTransaction tx, string url, string schema)
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
        if (v < Version)
            throw new StorageException($"refusing to use {url}: its schema version {v} is older than this build's {Version} and no migration exists");
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
