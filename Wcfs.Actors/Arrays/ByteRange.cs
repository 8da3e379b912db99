// ByteRange - an inclusive range [First, Last] of byte offsets in an array's file.
namespace Wcfs.Actors.Arrays;

/// <summary>The bytes [<see cref="First"/>, <see cref="Last"/>] (inclusive) of an array's file; empty when Last &lt; First.</summary>
public readonly record struct ByteRange(long First, long Last)
{
    /// <summary>No bytes.</summary>
    public static ByteRange Empty => new(0, -1);

    /// <summary>The bytes [offset, offset + count).</summary>
    public static ByteRange FromOffset(long offset, long count) =>
        count <= 0 ? Empty : new ByteRange(offset, checked(offset + count - 1));

    /// <summary>True when the range holds no bytes.</summary>
    public bool IsEmpty => Last < First;

    /// <summary>The number of bytes.</summary>
    public long Count => IsEmpty ? 0 : Last - First + 1;

    /// <summary>The pages holding the range, as (first page, page count); (0, 0) when empty.</summary>
    /// <param name="pageSize">The page size in bytes (positive).</param>
    public (long PgOffset, long PgLen) ToPages(long pageSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        if (IsEmpty)
            return (0, 0);
        var first = First / pageSize;
        return (first, Last / pageSize - first + 1);
    }

    /// <summary>True when every byte of <paramref name="other"/> is in this range (an empty range is in every range).</summary>
    public bool Contains(ByteRange other) => other.IsEmpty || (!IsEmpty && other.First >= First && other.Last <= Last);

    /// <summary><c>[first, last]</c> or <c>[]</c>.</summary>
    public override string ToString() => IsEmpty ? "[]" : $"[{First}, {Last}]";
}
