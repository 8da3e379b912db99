// BlockChunks - how a block version is cut into chunks (the layout of schema 2, both backends).
//
// A block of B bytes is stored as chunks of C = min(chunk size of the database, B) bytes (both are
// powers of two, so C divides B); chunk k covers bytes [k·C, (k+1)·C) of the block. A block version
// (oid, blk, tid) is a row of its own (the serial; also for deletions); a chunk version
// (oid, blk, chunk, tid) is stored only when the chunk's bytes differ from the chunk's newest
// stored version before it (an absent chunk reads as zeros). Chunk data has its trailing zeros
// trimmed; an all-zero chunk that shadows older data is stored as NULL (a hole chunk). Reading a
// block as of `at` takes each chunk's newest version with tid ≤ at, in one query. Since schema 3 a
// chunk version may also be a delta over the version before it (ChunkDeltas.cs: any small change
// on SQLite, appends on PostgreSQL); a read then applies the chain from the newest whole version. The database's
// chunk size is recorded once (meta) at creation or migration and never changes afterwards, so
// every reader agrees on where chunk k lies.
namespace Wcfs.Actors.Storage;

/// <summary>Chunk arithmetic shared by the backends (see the file comment).</summary>
public static class BlockChunks
{
    /// <summary>The default chunk size, 64 KiB (HOCON <c>wcfs.history.chunk-size</c>).</summary>
    public const int DefaultChunkSize = 64 << 10;

    /// <summary>The largest chunk size (the largest block size).</summary>
    public const int MaxChunkSize = 64 << 20;

    /// <summary>True for a power of two from 1 KiB to 64 MiB.</summary>
    public static bool IsValidChunkSize(long n) => n >= 1024 && n <= MaxChunkSize && (n & (n - 1)) == 0;

    /// <summary>Throws a one-line ArgumentException naming the rule unless <paramref name="n"/> is valid.</summary>
    public static int Validate(long n) => IsValidChunkSize(n)
        ? (int)n
        : throw new ArgumentException($"invalid chunk size {n}: must be a power of two from 1 KiB to 64 MiB");

    /// <summary>The chunk size of a file with <paramref name="blockSize"/>-byte blocks.</summary>
    public static int For(int chunkSize, int blockSize) => Math.Min(chunkSize, blockSize);

    /// <summary>How many chunk positions a read into a buffer of <paramref name="length"/> bytes covers.</summary>
    public static int CountFor(int chunkSize, int length) => Math.Max(1, (int)((Math.Min(length, MaxChunkSize) + (long)chunkSize - 1) / chunkSize));

    /// <summary><paramref name="data"/> without its trailing zeros (empty for all zeros).</summary>
    public static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> data) => data[..(data.LastIndexOfAnyExcept((byte)0) + 1)];

    /// <summary>Chunk <paramref name="k"/> of <paramref name="block"/> (data shorter than the block ends in zeros), trimmed.</summary>
    public static ReadOnlySpan<byte> Chunk(ReadOnlySpan<byte> block, int chunk, int k)
    {
        var from = (long)k * chunk;
        if (from >= block.Length)
            return default;
        return Trim(block.Slice((int)from, (int)Math.Min(chunk, block.Length - from)));
    }
}
