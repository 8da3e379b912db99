// VirtmemExceptions - what the virtmem API (BigFileH, Vma; ZBigFile/ZBigArray through them) throws
// for an environment reason. They live in the namespace of that API, Wcfs.Actors.Virtmem, although
// this assembly (Wcfs.Native) declares them: its SafeHandles throw them (Interop/NativeErrors.cs is
// the one errno → exception mapping).
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Virtmem;

/// <summary>A virtmem native call failed for an environment reason; <see cref="Errno"/> is the cause.</summary>
public class VirtmemException : Exception
{
    /// <summary>Creates the exception.</summary>
    public VirtmemException(string message, int errno) : base(message) => Errno = errno;

    /// <summary>The positive errno (or virtmem code) of the failure.</summary>
    public int Errno { get; }
}

/// <summary>The address space, the RAM budget or <c>vm.max_map_count</c> is exhausted; nothing was half-mapped.</summary>
public sealed class VirtmemMapLimitException(string message, int errno) : VirtmemException(message, errno);

/// <summary>A page was written between writeout STORE and MARKSTORED: the write was not stored (usage error).</summary>
public sealed class VirtmemWrittenDuringStoreException(string message) : VirtmemException(message, -VirtmemNative.StoreRace);
