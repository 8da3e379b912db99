// NativePageMemory - a Memory<byte> over a page of virtmem's RAM handed to IBlockStore.StoreBlock,
// so a store can pass the page to the storage commit without copying it (IBlockStore's contract:
// the page stays readable and unchanged until MARKSTORED or a discard). The memory is native
// (the RAM window of a memfd), so the GC never moves it; the view must not be used after
// MARKSTORED/discard, when the slot is freed and reads as zeros.
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Wcfs.Actors.Virtmem;

/// <summary>A view of one RAM page given to StoreBlock; valid until MARKSTORED or discard (see IBlockStore).</summary>
public sealed unsafe class NativePageMemory : MemoryManager<byte>
{
    private readonly byte* _p;
    private readonly int _length;

    private NativePageMemory(byte* p, int length)
    {
        _p = p;
        _length = length;
    }

    /// <summary>A view of <paramref name="page"/>, which must be the span StoreBlock was given.</summary>
    public static ReadOnlyMemory<byte> Of(ReadOnlySpan<byte> page) =>
        new NativePageMemory((byte*)Unsafe.AsPointer(ref MemoryMarshal.GetReference(page)), page.Length).Memory;

    /// <inheritdoc />
    public override Span<byte> GetSpan() => new(_p, _length);

    /// <inheritdoc />
    public override MemoryHandle Pin(int elementIndex = 0) => new(_p + elementIndex);

    /// <inheritdoc />
    public override void Unpin()
    {
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
    }
}
