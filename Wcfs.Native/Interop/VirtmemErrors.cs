// VirtmemErrors - the one errno -> exception mapping of the virtmem native calls (STYLE.md "Errors").
using System.Runtime.InteropServices;

namespace Wcfs.Native.Interop;

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

/// <summary>Turns native return codes into exceptions.</summary>
public static class VirtmemErrors
{
    private const int EINVAL = (int)Mono.Unix.Native.Errno.EINVAL, ENOMEM = (int)Mono.Unix.Native.Errno.ENOMEM, EBUSY = (int)Mono.Unix.Native.Errno.EBUSY, ENOSPC = (int)Mono.Unix.Native.Errno.ENOSPC, EMFILE = (int)Mono.Unix.Native.Errno.EMFILE;

    /// <summary>Returns <paramref name="rc"/> if it is not negative, else throws the mapped exception.</summary>
    /// <param name="rc">The native return value.</param>
    /// <param name="what">The operation, for the message ("mmap pages [0, 4)").</param>
    public static long Check(long rc, string what)
    {
        if (rc >= 0)
            return rc;
        var e = (int)-rc;
        throw (int)rc switch
        {
            VirtmemNative.StoreRace => new VirtmemWrittenDuringStoreException(
                $"{what}: a page was written between writeout STORE and MARKSTORED; do not write while a writeout runs (the pages stay dirty)"),
            VirtmemNative.WrongPhase => new InvalidOperationException($"{what}: MARKSTORED without a preceding STORE"),
            _ => e switch
            {
                EINVAL => new ArgumentException($"{what}: invalid argument (page/block size or range)"),
                EBUSY => new InvalidOperationException($"{what}: still in use (close its mappings/handles first)"),
                ENOMEM => new VirtmemMapLimitException($"{what}: out of address space or vm.max_map_count reached", e),
                ENOSPC => new VirtmemMapLimitException($"{what}: the RAM page budget is used up", e),
                EMFILE => new VirtmemMapLimitException($"{what}: too many VMAs registered", e),
                _ => new VirtmemException($"{what}: failed with errno {e} ({Marshal.GetPInvokeErrorMessage(e)})", e),
            },
        };
    }
}
