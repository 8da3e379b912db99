// ChunkDeltas - whether a changed chunk is stored whole or as a delta over its previous version
// (schema 3 of both backends). SQLite stores any small change as a delta (its writer reads the
// previous version in the write transaction); PostgreSQL only append deltas: its writer compares
// SHA-256 hashes so that no old data crosses the wire, and a chunk that only grew is recognized by
// the hash of its first Length bytes (each row keeps its content's hash and length).
//
// Why: an array that grows by appends changes the end of one chunk per commit. Storing that chunk
// whole each time cost 40.75 MiB for 1,000 appends of 1 KiB at 64 KiB chunks (bench `history`).
// A delta stores only the byte range where the chunk differs from its previous version.
//
// A chunk's content is its trimmed bytes followed by zeros. A delta (off, bytes) says: take the
// previous version's content and lay `bytes` over [off, off + bytes.Length); its depth is the
// previous version's depth + 1; a whole version (a hole too) has depth 0. Rules, all decided by the
// writer, so a reader only applies chains:
//   - whole when there is no previous content (absent, or a hole) or the new content is all zeros:
//     a chain always starts at a whole version with data;
//   - a delta only while depth ≤ MaxDepth and the range is at most half the new content's length;
//     otherwise whole. So reading a chunk applies at most MaxDepth + 1 rows, and a delta is never
//     worth more than half a whole version.
//   - reading chunk k as of `at`: its newest version v ≤ at; when v.depth = d > 0, the d + 1 newest
//     versions ≤ at, applied oldest first (the first is whole).
//   - pack keeps, per chunk, every version from the newest whole version ≤ cut onwards, so each
//     kept delta still has its chain.
// Appending 1 KiB per commit to a 64 KiB chunk thus stores, per 64 commits, whole versions of 1 and
// 33 KiB plus 62 deltas of 1 KiB: 96 KiB for 64 KiB of data.
namespace Wcfs.Actors.Storage;

/// <summary>How one changed chunk is stored (see the file comment).</summary>
/// <param name="Unchanged">The content equals the previous version's: nothing is stored.</param>
/// <param name="Whole">Stored whole (depth 0); else a delta of bytes [Off, Off + Length).</param>
/// <param name="Off">Where the stored bytes go in the chunk (0 when whole).</param>
/// <param name="Length">How many bytes are stored (0: a hole).</param>
internal readonly record struct ChunkChange(bool Unchanged, bool Whole, int Off, int Length);

/// <summary>The delta rules of the SQLite layout (see the file comment).</summary>
internal static class ChunkDeltas
{
    /// <summary>The deepest delta: a chunk read applies at most MaxDepth + 1 rows.</summary>
    public const int MaxDepth = 31;

    /// <summary>
    /// Decides how <paramref name="now"/> (trimmed) is stored after <paramref name="prev"/> (the
    /// previous version's trimmed content, empty for none or a hole) of depth <paramref name="prevDepth"/>.
    /// </summary>
    public static ChunkChange Decide(ReadOnlySpan<byte> prev, int prevDepth, ReadOnlySpan<byte> now)
    {
        var common = Math.Min(prev.Length, now.Length);
        var lo = prev[..common].CommonPrefixLength(now[..common]);
        int hi;
        if (lo == common)
        {
            if (prev.Length == now.Length)
                return new ChunkChange(true, false, 0, 0);
            // Equal up to the shorter's end; the longer's tail differs from the shorter's implied
            // zeros from its first non-zero byte to its (non-zero, trimmed) end.
            var longer = prev.Length > now.Length ? prev : now;
            lo = common + longer[common..].IndexOfAnyExcept((byte)0);
            hi = longer.Length;
        }
        else
        {
            // The longer one ends in a non-zero byte where the shorter reads zero: hi is its end.
            hi = prev.Length != now.Length ? Math.Max(prev.Length, now.Length) : common - CommonSuffixLength(prev, now);
        }
        var whole = prev.IsEmpty || now.IsEmpty || prevDepth >= MaxDepth || 2L * (hi - lo) > now.Length;
        return whole ? new ChunkChange(false, true, 0, now.Length) : new ChunkChange(false, false, lo, hi - lo);
    }

    /// <summary>How many trailing bytes two equally long spans share.</summary>
    private static int CommonSuffixLength(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        const int step = 256;
        var n = a.Length;
        while (n >= step && a.Slice(n - step, step).SequenceEqual(b.Slice(n - step, step)))
            n -= step;
        while (n > 0 && a[n - 1] == b[n - 1])
            n--;
        return a.Length - n;
    }
}
