// ClientExceptions - what the WCFS client API (WcfsClient, Conn, FileH, Mapping; and Database through
// them) throws for an environment reason. They live in the namespace of that API, Wcfs.Actors.Client,
// although this assembly (Wcfs.Native) declares them: its SafeHandles throw them
// (Interop/NativeErrors.cs is the one errno → exception mapping).
namespace Wcfs.Actors.Client;

/// <summary>A WCFS client operation failed for an environment reason; <see cref="Errno"/> is the cause.</summary>
public class WcfsClientException : Exception
{
    /// <summary>Creates the exception.</summary>
    public WcfsClientException(string message, int errno = 0) : base(message) => Errno = errno;

    /// <summary>Creates the exception with its cause.</summary>
    public WcfsClientException(string message, Exception inner, int errno = 0) : base(message, inner) => Errno = errno;

    /// <summary>The positive errno of the failure (0 if none).</summary>
    public int Errno { get; }
}

/// <summary>The WCFS server is gone (its mount answers ENOTCONN, or the watch link went down).</summary>
public sealed class WcfsServerGoneException(string message, int errno = 0) : WcfsClientException(message, errno);
