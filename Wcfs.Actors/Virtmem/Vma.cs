// Vma - one mapping of pages of a BigFileH (VIRTMEM.md §1). Dispose = unmap (twice is a no-op).
//
// Memory obtained before Dispose must not be used after it: such an access ends the process with a
// clear message (like any invalid access), never a silent corruption.
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Virtmem;

/// <summary>A memory mapping of pages [<c>PgOffset</c>, <c>PgOffset+PgLen</c>) of a <see cref="BigFileH"/>.</summary>
public sealed unsafe class Vma : IDisposable
{
    private readonly VmaHandle _native;

    internal Vma(VmaHandle native, long pgOffset, long pgLen, int pageSize)
    {
        _native = native;
        FileRange = (pgOffset, pgLen);
        PageSize = pageSize;
        Address = native.Address;
        Length = pgLen * pageSize;
    }

    /// <summary>Start address of the mapping.</summary>
    public nint Address { get; }

    /// <summary>Length in bytes.</summary>
    public long Length { get; }

    /// <summary>The pages of the file this VMA maps.</summary>
    public (long PgOffset, long PgLen) FileRange { get; }

    /// <summary>Page size in bytes (the dirty-page granularity).</summary>
    public int PageSize { get; }

    /// <summary>True once unmapped.</summary>
    public bool IsDisposed => _native.IsClosed;

    /// <summary>The whole mapping (up to 2 GiB; use <see cref="GetSpan"/> for larger ones).</summary>
    public Span<byte> Span => Length <= int.MaxValue
        ? GetSpan(0, (int)Length)
        : throw new InvalidOperationException($"the mapping is {Length} bytes, more than a Span can hold: use GetSpan(offset, length)");

    /// <summary>Bytes [<paramref name="offset"/>, +<paramref name="length"/>) of the mapping.</summary>
    public Span<byte> GetSpan(long offset, int length)
    {
        ObjectDisposedException.ThrowIf(_native.IsClosed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(length), $"[{offset}, {offset + length}) is past the end of the mapping ({Length} bytes)");
        return new Span<byte>((byte*)Address + offset, length);
    }

    /// <summary>Makes every later access to the mapping end the process with a "closed mapping" message.</summary>
    internal void Efault() => VirtmemErrors.Check(VirtmemNative.VmaEfault(_native.DangerousGetHandle()), "efault VMA");

    /// <summary>Unmaps; dirty pages stay in the handle. A second call does nothing.</summary>
    public void Dispose() => _native.Dispose();
}
