// ArrayMemory - a region of memory that holds some bytes of an array's file.
namespace Wcfs.Actors.Arrays;

/// <summary>
/// A region of memory at <see cref="Address"/> holding the bytes [<see cref="FileOffset"/>,
/// <see cref="FileOffset"/> + <see cref="Length"/>) of an array's file: a virtmem mapping of the pages
/// a view needs (Vma.Address, PgOffset × page size, Vma.Length), or any native block in tests.
/// The region must stay valid while views over it are used; it is not owned.
/// </summary>
/// <param name="Address">The address of the byte at <paramref name="FileOffset"/>.</param>
/// <param name="FileOffset">The file offset of the region's first byte (≥ 0).</param>
/// <param name="Length">The number of bytes in the region (≥ 0).</param>
public readonly record struct ArrayMemory(nint Address, long FileOffset, long Length)
{
    /// <summary>A region holding the file from byte 0.</summary>
    public static ArrayMemory FromStart(nint address, long length) => new(address, 0, length);

    /// <summary>A mapping of <paramref name="length"/> bytes from page <paramref name="pgOffset"/> of the
    /// file (e.g. a Vma: Address, FileRange.PgOffset, PageSize, Length).</summary>
    /// <exception cref="OverflowException">The file offset does not fit in a long.</exception>
    public static ArrayMemory FromPages(nint address, long pgOffset, long pageSize, long length) =>
        new(address, checked(pgOffset * pageSize), length);

    /// <summary>The bytes of the file the region holds.</summary>
    public ByteRange Bytes => ByteRange.FromOffset(FileOffset, Length);

    internal nint AddressOf(long fileOffset) => Address + (nint)(fileOffset - FileOffset);
}
