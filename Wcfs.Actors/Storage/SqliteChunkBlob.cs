// SqliteChunkBlob - chunk data moved between SQLite's pages and the caller's buffer by incremental
// blob I/O (sqlite3_blob_read / sqlite3_blob_write), for the two hot paths: ReadBlock and the
// chunk writes of Commit.
//
// Why: `SELECT data` makes SQLite assemble each chunk (local part + overflow page) into a buffer it
// mallocs per row, which the caller then copies again; binding a chunk to an INSERT copies it into
// a malloc'd buffer twice more (SQLITE_TRANSIENT, then the record). Per 64 KiB chunk that is a
// malloc/free of sizes glibc serves from a thread arena and gives back to the kernel as soon as
// they are freed, so every chunk paid fresh page faults and the kernel's zeroing: commit ran at
// ~0.5x a raw INSERT of whole 2 MiB blobs (docs/NOTES.md "Data path"). With blob I/O a read copies
// each chunk once, from SQLite's page into the destination, and an INSERT binds zeroblob(n) and
// then writes the bytes once into the row's pages.
//
// A handle is opened on the first row and moved to the next by sqlite3_blob_reopen (no statement
// compiled per row). It belongs to one call on one rented connection and is disposed before that
// call ends: an open blob handle keeps the connection's read transaction open.
using SQLitePCL;

namespace Wcfs.Actors.Storage;

internal sealed class SqliteChunkBlob(sqlite3 db, string path, bool write) : IDisposable
{
    private sqlite3_blob? _blob;

    /// <summary>Reads the first dest.Length bytes of the data of chunk row <paramref name="rowid"/>.</summary>
    public void Read(long rowid, Span<byte> dest)
    {
        Seek(rowid);
        Check(raw.sqlite3_blob_read(_blob, dest, 0), "read", rowid);
    }

    /// <summary>Writes <paramref name="src"/> at the start of the data (a zeroblob of at least its length) of chunk row <paramref name="rowid"/>.</summary>
    public void Write(long rowid, ReadOnlySpan<byte> src)
    {
        Seek(rowid);
        Check(raw.sqlite3_blob_write(_blob, src, 0), "write", rowid);
    }

    private void Seek(long rowid)
    {
        if (_blob is null)
        {
            var rc = raw.sqlite3_blob_open(db, "main", "chunk", "data", rowid, write ? 1 : 0, out var b);
            if (rc != raw.SQLITE_OK)
                b?.Dispose();
            else
                _blob = b;
            Check(rc, "open", rowid);
        }
        else
        {
            Check(raw.sqlite3_blob_reopen(_blob, rowid), "reopen", rowid);
        }
    }

    private void Check(int rc, string op, long rowid)
    {
        if (rc == raw.SQLITE_OK)
            return;
        var msg = raw.sqlite3_errmsg(db).utf8_to_string();
        // A failed open leaves no handle; a failed reopen/read/write leaves one that must be closed.
        _blob?.Dispose();
        _blob = null;
        throw new StorageException($"{path}: blob {op} of chunk row {rowid} failed: {msg}");
    }

    public void Dispose()
    {
        _blob?.Dispose();
        _blob = null;
    }
}
