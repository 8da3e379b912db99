// SqliteStorage.Chunks - rebuilding a chunk from its delta chain (ChunkDeltas.cs), for ReadBlock
// and for the writer's comparison in Commit.
using SQLitePCL;

namespace Wcfs.Actors.Storage;

public sealed partial class SqliteStorage
{
    private const string ChainSql =
        "SELECT rowid, length(data), off FROM chunk WHERE oid = ?1 AND blk = ?2 AND chunk = ?3 AND tid <= ?4 ORDER BY tid DESC LIMIT ?5";

    /// <summary>
    /// Rebuilds chunk <paramref name="k"/> of a block as of <paramref name="at"/> from its chain: the
    /// <paramref name="depth"/> + 1 newest versions ≤ at, the oldest of them whole (ChunkDeltas.cs).
    /// Leaves the content in <paramref name="content"/> (zeros past it); returns its trimmed length.
    /// </summary>
    private int ReadChain(PooledSqliteConnection c, SqliteChunkBlob blob, Oid oid, long blk, long k, long at, long depth, Span<byte> content)
    {
        var where = $"{Path}: chunk {k} of block {blk} of {oid}";
        if (depth is < 0 or > ChunkDeltas.MaxDepth)
            throw new StorageException($"{where}: delta depth {depth} out of range (corrupt database)");
        Span<(long Rowid, int Length, int Off)> rows = stackalloc (long, int, int)[ChunkDeltas.MaxDepth + 1];
        var n = 0;
        var st = c.Raw(ChainSql);
        try
        {
            raw.sqlite3_bind_int64(st, 1, Db(oid));
            raw.sqlite3_bind_int64(st, 2, blk);
            raw.sqlite3_bind_int64(st, 3, k);
            raw.sqlite3_bind_int64(st, 4, at);
            raw.sqlite3_bind_int64(st, 5, depth + 1);
            int rc;
            while ((rc = raw.sqlite3_step(st)) == raw.SQLITE_ROW)
                rows[n++] = (raw.sqlite3_column_int64(st, 0), (int)raw.sqlite3_column_int64(st, 1),
                             raw.sqlite3_column_type(st, 2) == raw.SQLITE_NULL ? -1 : (int)raw.sqlite3_column_int64(st, 2));
            if (rc != raw.SQLITE_DONE)
                throw new StorageException($"{where}: read failed: {raw.sqlite3_errmsg(c.Connection.Handle).utf8_to_string()}");
        }
        finally
        {
            raw.sqlite3_reset(st);
        }
        if (n != depth + 1 || rows[n - 1].Off != -1 || rows[n - 1].Length == 0)
            throw new StorageException($"{where}: its delta chain of depth {depth} does not start at a whole version (corrupt database)");
        content.Clear();
        var extent = 0;
        for (var i = n - 1; i >= 0; i--)
        {
            var (rowid, length, off) = rows[i];
            if (off < 0 && i != n - 1)
                throw new StorageException($"{where}: a whole version inside a delta chain (corrupt database)");
            var at0 = Math.Max(off, 0);
            if ((long)at0 + length > content.Length)
                throw new StorageException($"{where}: a version at {at0} of {length} bytes reaches past the {content.Length}-byte chunk (corrupt database)");
            blob.Read(rowid, content.Slice(at0, length));
            extent = Math.Max(extent, at0 + length);
        }
        return BlockChunks.Trim(content[..extent]).Length;
    }
}
