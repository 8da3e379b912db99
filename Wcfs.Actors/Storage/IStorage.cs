// IStorage - the multi-version object/block database under the big files (STORAGE.md).
//
// Model (STORAGE.md §1):
//   - commits get strictly increasing tids derived from commit time;
//   - objects (root, ZBigFile, ZBigArray) are versioned by tid; a deletion is a version too;
//   - blocks of a ZBigFile are versioned per (oid, blk, tid); a hole (never written, all zeros,
//     deleted) reads as zeros; trailing zeros of a block are not stored;
//   - a block version is stored as chunks (BlockChunks.cs: 64 KiB by default, HOCON
//     wcfs.history.chunk-size): a commit stores only the chunks that differ from the block's
//     previous version, and a read assembles each chunk's newest version ≤ at in one query;
//   - every commit produces a ChangeRecord: its tid, changed oids, and changed blocks per file.
//
// Invariants every backend keeps (the conformance suite checks each):
//   (1) Commit is atomic: after a crash at any moment the database is at the last completed commit.
//   (2) Commit(baseAt, ...) writes nothing and throws ConflictException if any written object or
//       block has a version with tid > baseAt.
//   (3) Changes(after) yields every commit with tid > after exactly once, in tid order.
//   (4) Reads "as of at" see exactly the versions with tid ≤ at (after Pack(cut): for at ≥ cut).
//
// Threading: implementations are safe for concurrent use from many threads; Commit serializes
// writers (also across processes).
namespace Wcfs.Actors.Storage;

/// <summary>The multi-version database (STORAGE.md §2).</summary>
public interface IStorage : IDisposable
{
    /// <summary>The URL this storage was opened with (normalized; never contains a password).</summary>
    string Url { get; }

    /// <summary>The newest committed tid (Tid.Zero for an empty database). Reads the database.</summary>
    Tid LastTid { get; }

    /// <summary>Allocates a new object id (never reused, even if never committed).</summary>
    Oid NewOid();

    /// <summary>
    /// The object as of <paramref name="at"/>, or null if it does not exist then (never created, or
    /// deleted). The root (oid 0) always exists: <see cref="RootState.Empty"/> with serial
    /// <see cref="Tid.Zero"/> until first written.
    /// </summary>
    LoadedObject? LoadObject(Oid oid, Tid at);

    /// <summary>
    /// Reads block <paramref name="blk"/> of file <paramref name="oid"/> as of <paramref name="at"/>
    /// into <paramref name="dest"/> (at least the block size; the rest after the stored data is
    /// zero-filled). Returns the serial (tid that wrote the version read), or null for a hole that
    /// was never written.
    /// </summary>
    Tid? ReadBlock(Oid oid, long blk, Tid at, Span<byte> dest);

    /// <summary>The last tid ≤ <paramref name="at"/> that changed the block, or null if none did.</summary>
    Tid? BlockRevAt(Oid oid, long blk, Tid at);

    /// <summary>
    /// The highest block number of the file that was ever written (any version with tid ≤ at,
    /// deletions included), or -1 if none. Size = (result + 1) × blksize (a high-water mark).
    /// </summary>
    long LastBlock(Oid oid, Tid at);

    /// <summary>Oids of all objects that exist as of <paramref name="at"/>, ascending.</summary>
    IReadOnlyList<Oid> ListObjects(Tid at);

    /// <summary>
    /// Commits atomically and returns the new tid. Throws <see cref="ConflictException"/> (nothing
    /// written) if any written object or block changed after <paramref name="baseAt"/>.
    /// </summary>
    Tid Commit(Tid baseAt, IReadOnlyList<ObjectWrite> objects, IReadOnlyList<BlockWrite> blocks);

    /// <summary>Change records of the commits after <paramref name="afterTid"/>, in order; waits for new ones.</summary>
    IAsyncEnumerable<ChangeRecord> Changes(Tid afterTid, CancellationToken cancellationToken = default);

    /// <summary>Drops versions that no reader at or after <paramref name="beforeTid"/> can see.</summary>
    void Pack(Tid beforeTid);

    /// <summary>
    /// Returns the space freed by <see cref="Pack"/> to the file system (SQLite VACUUM, PostgreSQL
    /// VACUUM of the block tables). Slow: it rewrites (SQLite) or scans (PostgreSQL) the data.
    /// </summary>
    void Reclaim();

    /// <summary>Bytes of block data stored per file: the newest version of every chunk (head) and the rest (history).</summary>
    IReadOnlyList<FileUsage> Usage();
}

/// <summary>Stored block bytes of one file (chunk data, trailing zeros trimmed; row overhead not counted).</summary>
public sealed record FileUsage(Oid File, long HeadBytes, long HistoryBytes);

/// <summary>Choices applied when a database is created or migrated (later opens keep what it records).</summary>
public sealed record StorageOptions
{
    /// <summary>The chunk size of block versions (BlockChunks.cs); a power of two from 1 KiB to 64 MiB.</summary>
    public int ChunkSize { get; init; } = BlockChunks.DefaultChunkSize;

    /// <summary>The defaults (64 KiB chunks).</summary>
    public static StorageOptions Default { get; } = new();

    /// <summary>The options of <c>wcfs.history</c> in <paramref name="config"/> (reference.conf as fallback).</summary>
    /// <exception cref="Akka.Configuration.ConfigurationException">An invalid value; the message names the key.</exception>
    public static StorageOptions FromConfig(Akka.Configuration.Config? config) =>
        FromSettings(Configuration.WcfsSettings.FromConfig(config));

    /// <summary>The options of <c>wcfs.history</c> in <paramref name="settings"/>.</summary>
    public static StorageOptions FromSettings(Configuration.WcfsSettings settings) =>
        new() { ChunkSize = settings.History.ChunkSize };
}

/// <summary>An object version: its state and the tid that wrote it (a deleted object loads as null instead).</summary>
public sealed record LoadedObject(ObjectState State, Tid Serial);

/// <summary>A write of an object in a commit; null state deletes the object.</summary>
public sealed record ObjectWrite(Oid Oid, ObjectState? State);

/// <summary>A write of one block in a commit; null data deletes the block (it becomes a hole).</summary>
public sealed record BlockWrite(Oid Oid, long Blk, ReadOnlyMemory<byte>? Data);

/// <summary>What one commit changed (STORAGE.md §1).</summary>
public sealed record ChangeRecord(Tid Tid, IReadOnlyList<Oid> Objects, IReadOnlyDictionary<Oid, long[]> Blocks);

/// <summary>A commit lost an optimistic race: something it writes changed after its base.</summary>
public sealed class ConflictException : Exception
{
    /// <summary>A conflict on <paramref name="oid"/> (block <paramref name="blk"/>, or the object when null).</summary>
    public ConflictException(Oid oid, long? blk, Tid baseAt, Tid newer)
        : base(blk is { } b
            ? $"conflict: block {b} of {oid} was changed at {newer}, after {baseAt}"
            : $"conflict: object {oid} was changed at {newer}, after {baseAt}")
    {
        Oid = oid;
        Blk = blk;
        BaseAt = baseAt;
        NewerTid = newer;
    }

    /// <summary>The object (or file) that conflicted.</summary>
    public Oid Oid { get; }

    /// <summary>The block that conflicted, or null for an object conflict.</summary>
    public long? Blk { get; }

    /// <summary>The writer's base revision.</summary>
    public Tid BaseAt { get; }

    /// <summary>The newer revision that made the conflict.</summary>
    public Tid NewerTid { get; }
}

/// <summary>The storage cannot be used: bad URL, foreign or corrupt file, newer schema, I/O failure.</summary>
public sealed class StorageException : Exception
{
    /// <summary>A storage failure whose message names the cause.</summary>
    public StorageException(string message, Exception? inner = null) : base(message, inner) { }
}
