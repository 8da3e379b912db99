// Ids - the typed identifiers of the storage model (STORAGE.md §1, PROTOCOL.md §1).
//
// Tid and Oid are 64-bit and written as exactly 16 hex digits (lower case out, either case in,
// every other length rejected). BlockNumber is a non-negative block index, decimal in text.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Wcfs.Actors.Storage;

/// <summary>A transaction id: strictly increasing across the commits of one database.</summary>
public readonly record struct Tid(ulong Value) : IComparable<Tid>, ISpanParsable<Tid>
{
    /// <summary>The tid before every commit (an empty database's <c>LastTid</c>).</summary>
    public static readonly Tid Zero = new(0);

    /// <summary>The largest tid; "as of the newest data".</summary>
    public static readonly Tid Max = new(ulong.MaxValue);

    /// <inheritdoc />
    public int CompareTo(Tid other) => Value.CompareTo(other.Value);

    /// <summary>16 lowercase hex digits.</summary>
    public override string ToString() => HexId.Format(Value);

    /// <summary>Parses exactly 16 hex digits.</summary>
    public static Tid Parse(string s) => Parse(s.AsSpan(), null);

    /// <inheritdoc />
    public static Tid Parse(string s, IFormatProvider? provider) => Parse(s.AsSpan(), provider);

    /// <inheritdoc />
    public static Tid Parse(ReadOnlySpan<char> s, IFormatProvider? provider) =>
        TryParse(s, provider, out var t) ? t : throw new FormatException($"invalid tid \"{s}\": expected 16 hex digits");

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Tid result) =>
        TryParse(s.AsSpan(), provider, out result);

    /// <summary>Parses exactly 16 hex digits.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out Tid result) => TryParse(s, null, out result);

    /// <inheritdoc />
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Tid result)
    {
        var ok = HexId.TryParse(s, out var v);
        result = new Tid(v);
        return ok;
    }

    /// <summary>Ordering by commit.</summary>
    public static bool operator <(Tid a, Tid b) => a.Value < b.Value;
    /// <summary>Ordering by commit.</summary>
    public static bool operator >(Tid a, Tid b) => a.Value > b.Value;
    /// <summary>Ordering by commit.</summary>
    public static bool operator <=(Tid a, Tid b) => a.Value <= b.Value;
    /// <summary>Ordering by commit.</summary>
    public static bool operator >=(Tid a, Tid b) => a.Value >= b.Value;
}

/// <summary>An object id: allocated by the storage, never reused. Oid 0 is the root.</summary>
public readonly record struct Oid(ulong Value) : IComparable<Oid>, ISpanParsable<Oid>
{
    /// <summary>The root object (name → oid map).</summary>
    public static readonly Oid Root = new(0);

    /// <inheritdoc />
    public int CompareTo(Oid other) => Value.CompareTo(other.Value);

    /// <summary>16 lowercase hex digits.</summary>
    public override string ToString() => HexId.Format(Value);

    /// <summary>Parses exactly 16 hex digits.</summary>
    public static Oid Parse(string s) => Parse(s.AsSpan(), null);

    /// <inheritdoc />
    public static Oid Parse(string s, IFormatProvider? provider) => Parse(s.AsSpan(), provider);

    /// <inheritdoc />
    public static Oid Parse(ReadOnlySpan<char> s, IFormatProvider? provider) =>
        TryParse(s, provider, out var o) ? o : throw new FormatException($"invalid oid \"{s}\": expected 16 hex digits");

    /// <inheritdoc />
    public static bool TryParse([NotNullWhen(true)] string? s, IFormatProvider? provider, out Oid result) =>
        TryParse(s.AsSpan(), provider, out result);

    /// <summary>Parses exactly 16 hex digits.</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out Oid result) => TryParse(s, null, out result);

    /// <inheritdoc />
    public static bool TryParse(ReadOnlySpan<char> s, IFormatProvider? provider, out Oid result)
    {
        var ok = HexId.TryParse(s, out var v);
        result = new Oid(v);
        return ok;
    }

    /// <summary>Ordering by allocation.</summary>
    public static bool operator <(Oid a, Oid b) => a.Value < b.Value;
    /// <summary>Ordering by allocation.</summary>
    public static bool operator >(Oid a, Oid b) => a.Value > b.Value;
    /// <summary>Ordering by allocation.</summary>
    public static bool operator <=(Oid a, Oid b) => a.Value <= b.Value;
    /// <summary>Ordering by allocation.</summary>
    public static bool operator >=(Oid a, Oid b) => a.Value >= b.Value;
}

/// <summary>A block index within a big file (≥ 0); decimal in text, no sign, no leading zeros.</summary>
public readonly record struct BlockNumber : IComparable<BlockNumber>
{
    /// <summary>Creates a block number; negative values are a bug.</summary>
    public BlockNumber(long value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        Value = value;
    }

    /// <summary>The index.</summary>
    public long Value { get; }

    /// <inheritdoc />
    public int CompareTo(BlockNumber other) => Value.CompareTo(other.Value);

    /// <summary>Decimal text.</summary>
    public override string ToString() => Value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Parses the protocol form: decimal, ≥ 0, no '+', no leading zeros except "0".</summary>
    public static bool TryParse(ReadOnlySpan<char> s, out BlockNumber result)
    {
        result = default;
        if (s.Length == 0 || s.Length > 19 || (s.Length > 1 && s[0] == '0'))
            return false;
        foreach (var c in s)
            if (c is < '0' or > '9')
                return false;
        if (!long.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
            return false;
        result = new BlockNumber(v);
        return true;
    }

    /// <summary>The index as a number.</summary>
    public static implicit operator long(BlockNumber b) => b.Value;

    /// <summary>
    /// The highest block a file of <paramref name="blockSize"/>-byte blocks can hold: its end
    /// <c>(blk+1)·blockSize</c> must be a byte offset ≤ 2^63−1 (a file's size, st_size and every
    /// offset are signed 64-bit). The one bound every layer checks (storage commit, CLI,
    /// Connection, server): <see cref="CheckInFile"/>.
    /// </summary>
    public static long MaxInFile(int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        return long.MaxValue / blockSize - 1;
    }

    /// <summary>Null if <paramref name="blk"/> is a valid block of a file of <paramref name="blockSize"/>-byte blocks, else the one-line error.</summary>
    public static string? CheckInFile(long blk, int blockSize) =>
        blk < 0 ? $"invalid block number {blk}: must be ≥ 0"
        : blk > MaxInFile(blockSize) ? $"block {blk} is out of range: with {blockSize}-byte blocks the last block a file can hold is {MaxInFile(blockSize)} (its end (blk+1)×blksize must stay ≤ 2^63−1 bytes)"
        : null;

    /// <summary>
    /// The size of a file whose highest block is <paramref name="lastBlock"/> (-1: none), capped at
    /// the last whole block that fits (a block beyond <see cref="MaxInFile"/>, stored before the
    /// bound existed, is never served).
    /// </summary>
    public static long FileSize(long lastBlock, int blockSize) =>
        (Math.Min(Math.Max(lastBlock, -1), MaxInFile(blockSize)) + 1) * blockSize;
}

/// <summary>The one parser/formatter of 16-hex-digit ids.</summary>
internal static class HexId
{
    public static string Format(ulong v) => v.ToString("x16", CultureInfo.InvariantCulture);

    public static bool TryParse(ReadOnlySpan<char> s, out ulong value)
    {
        value = 0;
        if (s.Length != 16)
            return false;
        foreach (var c in s)
            if (!char.IsAsciiHexDigit(c))
                return false;
        return ulong.TryParse(s, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }
}
