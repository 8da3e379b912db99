// Test helpers: native memory standing in for a virtmem mapping of an array's file.
using System.Runtime.InteropServices;
using Wcfs.Native.Interop;
using Wcfs.Actors.Arrays;

namespace Wcfs.Actors.Tests.Arrays;

/// <summary>A zeroed native block (NativeMemory.AllocZeroed) playing the mapped memory of a file from byte 0.</summary>
internal sealed unsafe class NativeBlock : IDisposable
{
    public NativeBlock(long length)
    {
        Length = length;
        Address = (nint)NativeMemory.AllocZeroed((nuint)Math.Max(length, 1));
    }

    public nint Address { get; private set; }
    public long Length { get; }

    /// <summary>The whole block as the file's bytes [0, Length).</summary>
    public ArrayMemory Memory => ArrayMemory.FromStart(Address, Length);

    public Span<byte> Bytes => new((void*)Address, checked((int)Length));

    public ref T At<T>(long byteOffset) where T : unmanaged => ref *(T*)(Address + (nint)byteOffset);

    public void Dispose()
    {
        if (Address != 0)
            NativeMemory.Free((void*)Address);
        Address = 0;
    }
}

/// <summary>An address-space reservation (mmap PROT_NONE, nothing committed) for views too big for RAM.</summary>
internal sealed partial class Reservation : IDisposable
{
    private const int ProtNone = 0, MapPrivate = 0x02, MapAnonymous = 0x20, MapNoReserve = 0x4000;

    public Reservation(long length)
    {
        Length = length;
        Address = Libc.Mmap(0, (nuint)length, ProtNone, MapPrivate | MapAnonymous | MapNoReserve, -1, 0);
        if (Address == -1)
            throw new InvalidOperationException($"mmap of {length} bytes of address space failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public nint Address { get; }
    public long Length { get; }

    public void Dispose() => _ = Libc.Munmap(Address, (nuint)Length);

}
