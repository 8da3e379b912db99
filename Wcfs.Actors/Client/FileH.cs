// FileH - one file open through a Conn (API.md §1): shared by every OpenAsync of the same oid on
// that Conn, with a reference count; each OpenAsync is matched by one DisposeAsync, the last one
// un-watches the file and makes its mappings fault.
using Akka.Actor;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>A WCFS file open through a <see cref="Conn"/>.</summary>
public sealed class FileH : IAsyncDisposable
{
    private readonly WclFileHandle _handle;
    private readonly IActorRef _conn;
    private readonly TimeSpan _askTimeout;
    private readonly ConnLifetime _lifetime;

    internal FileH(Oid oid, WclFileHandle handle, IActorRef actor, IActorRef conn, TimeSpan askTimeout, ConnLifetime lifetime)
    {
        _lifetime = lifetime;
        Oid = oid;
        _handle = handle;
        Actor = actor;
        _conn = conn;
        _askTimeout = askTimeout;
        BlockSize = handle.BlockSize;
    }

    /// <summary>The file's oid.</summary>
    public Oid Oid { get; }

    /// <summary>Block size in bytes.</summary>
    public long BlockSize { get; }

    /// <summary>Size in bytes as of the Conn's at.</summary>
    public long Size => _handle.Size;

    /// <summary>The native file (the base layer of virtmem VMAs is made from it: issue 6).</summary>
    internal WclFileHandle NativeHandle => _handle;

    /// <summary>The FileHActor of this file (diagnostics, tests).</summary>
    public IActorRef Actor { get; }

    /// <summary>The pinned table: block → the revision it is mapped at (blocks not listed show head).</summary>
    public IReadOnlyDictionary<BlockNumber, Tid> Pinned => _handle.IsClosed
        ? throw new ObjectDisposedException(nameof(FileH), $"file {Oid} is closed")
        : _handle.Pinned().ToDictionary(p => new BlockNumber((long)p.Blk), p => new Tid(p.Rev));

    /// <summary>Maps blocks [blkStart, blkStart+blkLen) read-only.</summary>
    /// <exception cref="ObjectDisposedException">The file or its connection is closed.</exception>
    /// <exception cref="WcfsClientException">The mapping failed (e.g. out of address space).</exception>
    /// <exception cref="TimeoutException">The FileHActor did not answer within <c>wcfs.client.ask-timeout</c>.</exception>
    public async Task<Mapping> MmapAsync(long blkStart, long blkLen, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blkStart);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blkLen);
        _lifetime.ThrowIfClosed($"mmap {Oid}");
        var m = await ClientAsk.Ask<FileHProtocol.Mapped>(Actor, new FileHProtocol.Mmap(blkStart, blkLen), _askTimeout, $"mmap {Oid} [{blkStart}, {blkStart + blkLen})", cancellationToken).ConfigureAwait(false);
        return new Mapping(this, m.Handle, m.Actor, blkStart, blkStart + blkLen);
    }

    /// <summary>Drops one reference; the last one un-watches the file and makes its mappings fault.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_lifetime.IsClosed)
            return; // the conn closed every file already
        await ClientAsk.Ask<ConnProtocol.Released>(_conn, new ConnProtocol.Release(Oid), _askTimeout, $"close {Oid}").ConfigureAwait(false);
    }
}

/// <summary>The edge Ask of the client API: a timeout, the caller's token, and failures re-thrown as
/// themselves with the actor's stack (ExceptionDispatchInfo).</summary>
internal static class ClientAsk
{
    public static async Task<T> Ask<T>(ICanTell actor, object message, TimeSpan timeout, string what, CancellationToken cancellationToken = default)
    {
        object reply;
        try
        {
            reply = await actor.Ask<object>(message, timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            throw new TimeoutException($"{what}: no answer within {timeout.TotalSeconds:0.#}s");
        }
        return reply switch
        {
            T t => t,
            Status.Failure f => throw ActorFailure.Rethrow(f.Cause),
            _ => throw new InvalidOperationException($"{what}: unexpected reply {reply}"),
        };
    }
}
