// NativeErrors - the one errno → exception mapping of the native calls (STYLE.md "Errors"): the
// WCFS client calls (wcl_*) and the virtmem calls (vm_*) return 0 / a count, or -errno (or a
// virtmem code), and every such return goes through Map. The errno numbers are Mono.Unix's (no
// errno table of our own). Which API failed (Client or Virtmem) picks the exception type of that
// API's namespace and the wording of the hint; the errno picks the kind:
//
//   ENOTCONN, ECONNABORTED     server gone            WcfsServerGoneException (client)
//   ENOENT                     no such file           WcfsClientException (client)
//   EINVAL                     bad argument           ArgumentException
//   EBUSY                      still in use           InvalidOperationException
//   ESHUTDOWN                  closed                 ObjectDisposedException
//   ENOMEM, ENOSPC, EMFILE     a limit is reached     VirtmemMapLimitException (virtmem) / WcfsClientException
//   StoreRace, WrongPhase      writeout misuse        VirtmemWrittenDuringStoreException / InvalidOperationException
//   anything else              errno and its text     WcfsClientException / VirtmemException
using System.Runtime.InteropServices;
using Wcfs.Actors.Client;
using Wcfs.Actors.Virtmem;
using E = Mono.Unix.Native.Errno;

namespace Wcfs.Native.Interop;

/// <summary>Which native API a return code came from.</summary>
internal enum NativeApi
{
    /// <summary>The WCFS client (wcl_*).</summary>
    Client,

    /// <summary>Virtmem (vm_*).</summary>
    Virtmem,
}

/// <summary>The one errno → exception mapping (see the file comment).</summary>
internal static class NativeErrors
{
    /// <summary>Errno numbers the callers test (Mono.Unix's numbers).</summary>
    public const int ENOENT = (int)E.ENOENT, ERANGE = (int)E.ERANGE;

    /// <summary>Returns <paramref name="rc"/> if it is not negative, else throws the mapped exception.</summary>
    /// <param name="rc">The native return value.</param>
    /// <param name="what">The operation, for the message ("open file 00000000000000a1").</param>
    /// <param name="api">The API that returned it.</param>
    public static long Check(long rc, string what, NativeApi api) => rc >= 0 ? rc : throw Map(rc, what, api);

    /// <summary>The exception of a negative native return code.</summary>
    public static Exception Map(long rc, string what, NativeApi api)
    {
        var client = api == NativeApi.Client;
        if (rc == VirtmemNative.StoreRace)
            return new VirtmemWrittenDuringStoreException(
                $"{what}: a page was written between writeout STORE and MARKSTORED; do not write while a writeout runs (the pages stay dirty)");
        if (rc == VirtmemNative.WrongPhase)
            return new InvalidOperationException($"{what}: MARKSTORED without a preceding STORE");
        var e = (int)-rc;
        return (E)e switch
        {
            E.ENOTCONN or E.ECONNABORTED when client => new WcfsServerGoneException($"{what}: the WCFS server is gone (mount not connected); restart it with `wcfs serve <url>`", e),
            E.ENOENT when client => new WcfsClientException($"{what}: no such file on the WCFS mount (not a big file, or not as of this revision)", e),
            E.EINVAL => new ArgumentException($"{what}: invalid argument ({(client ? "block range or revision" : "page/block size or range")})"),
            E.EBUSY => new InvalidOperationException($"{what}: still in use (close its {(client ? "files" : "mappings/handles")} first)"),
            E.ESHUTDOWN => new ObjectDisposedException(what, $"{what}: the file or connection of this mapping is closed"),
            E.ENOMEM when client => new WcfsClientException($"{what}: out of address space or vm.max_map_count reached", e),
            E.ENOMEM => new VirtmemMapLimitException($"{what}: out of address space or vm.max_map_count reached", e),
            E.ENOSPC when !client => new VirtmemMapLimitException($"{what}: the RAM page budget is used up", e),
            E.EMFILE when !client => new VirtmemMapLimitException($"{what}: too many VMAs registered", e),
            _ when client => new WcfsClientException($"{what}: failed with errno {e} ({Marshal.GetPInvokeErrorMessage(e)})", e),
            _ => new VirtmemException($"{what}: failed with errno {e} ({Marshal.GetPInvokeErrorMessage(e)})", e),
        };
    }
}

/// <summary>The client calls' entry to <see cref="NativeErrors"/>.</summary>
internal static class ClientErrors
{
    /// <summary>ENOENT, ERANGE (Mono.Unix's numbers).</summary>
    public const int ENOENT = NativeErrors.ENOENT, ERANGE = NativeErrors.ERANGE;

    /// <summary>Returns <paramref name="rc"/> if it is not negative, else throws the mapped exception.</summary>
    public static long Check(long rc, string what) => NativeErrors.Check(rc, what, NativeApi.Client);
}

/// <summary>The virtmem calls' entry to <see cref="NativeErrors"/>.</summary>
internal static class VirtmemErrors
{
    /// <summary>Returns <paramref name="rc"/> if it is not negative, else throws the mapped exception.</summary>
    public static long Check(long rc, string what) => NativeErrors.Check(rc, what, NativeApi.Virtmem);
}
