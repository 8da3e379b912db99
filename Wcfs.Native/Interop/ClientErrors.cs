// ClientErrors - the one errno -> exception mapping of the native WCFS client calls.
using System.Runtime.InteropServices;

namespace Wcfs.Native.Interop;

/// <summary>A WCFS client operation failed for an environment reason; <see cref="Errno"/> is the cause.</summary>
public class WcfsClientException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WcfsClientException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>The positive errno of the failure (0 if none).</summary>
    public int Errno { get; }
}

/// <summary>The WCFS server is gone (its mount answers ENOTCONN, or the watch link went down).</summary>
public sealed class WcfsServerGoneException(string message, int errno = 0) : WcfsClientException(message, errno);

/// <summary>Turns native client return codes into exceptions.</summary>
public static class ClientErrors
{
    /// <summary>errno values used by the client (Mono.Unix's numbers).</summary>
    public const int ENOENT = (int)Mono.Unix.Native.Errno.ENOENT, EIO = (int)Mono.Unix.Native.Errno.EIO, ENOMEM = (int)Mono.Unix.Native.Errno.ENOMEM, EBUSY = (int)Mono.Unix.Native.Errno.EBUSY, EEXIST = (int)Mono.Unix.Native.Errno.EEXIST, EINVAL = (int)Mono.Unix.Native.Errno.EINVAL, ERANGE = (int)Mono.Unix.Native.Errno.ERANGE,
        ENOTCONN = (int)Mono.Unix.Native.Errno.ENOTCONN, ESHUTDOWN = (int)Mono.Unix.Native.Errno.ESHUTDOWN, ETIMEDOUT = (int)Mono.Unix.Native.Errno.ETIMEDOUT, ECONNABORTED = (int)Mono.Unix.Native.Errno.ECONNABORTED;

    /// <summary>Returns <paramref name="rc"/> if it is not negative, else throws the mapped exception.</summary>
    /// <param name="rc">The native return value.</param>
    /// <param name="what">The operation, for the message ("open file 00000000000000a1").</param>
    public static long Check(long rc, string what)
    {
        if (rc >= 0)
            return rc;
        var e = (int)-rc;
        throw e switch
        {
            ENOTCONN or ECONNABORTED => new WcfsServerGoneException($"{what}: the WCFS server is gone (mount not connected); restart it with `wcfs serve <url>`", e),
            ENOENT => new WcfsClientException($"{what}: no such file on the WCFS mount (not a big file, or not as of this revision)", e),
            EINVAL => new ArgumentException($"{what}: invalid argument (block range or revision)"),
            EBUSY => new InvalidOperationException($"{what}: still in use (close its files first)"),
            ESHUTDOWN => new ObjectDisposedException(what, $"{what}: the file or connection of this mapping is closed"),
            ENOMEM => new WcfsClientException($"{what}: out of address space or vm.max_map_count reached", e),
            _ => new WcfsClientException($"{what}: failed with errno {e} ({Marshal.GetPInvokeErrorMessage(e)})", e),
        };
    }
}
