// Conn - a view of the WCFS filesystem as of one revision At, with one watch link (API.md §1,
// ARCHITECTURE.md §7). The public face of a ConnActor.
using Akka.Actor;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Client;

/// <summary>A WCFS connection: every file opened through it shows the data as of <see cref="At"/>.</summary>
public sealed class Conn : IAsyncDisposable
{
    private readonly WcfsClient _client;
    private readonly TimeSpan _askTimeout;
    private readonly ConnLifetime _lifetime;

    internal Conn(WcfsClient client, IActorRef actor, Tid at, TimeSpan askTimeout, ConnLifetime lifetime)
    {
        _client = client;
        Actor = actor;
        At = at;
        _askTimeout = askTimeout;
        _lifetime = lifetime;
    }

    /// <summary>The revision this connection shows.</summary>
    public Tid At { get; private set; }

    /// <summary>The ConnActor (diagnostics, tests).</summary>
    public IActorRef Actor { get; }

    /// <summary>True once the connection is closed (by the user, a refused resync, or the runtime).</summary>
    public bool IsClosed => _lifetime.IsClosed;

    /// <summary>
    /// Opens file <paramref name="oid"/> (watching it at <see cref="At"/>); opening an oid that is open already
    /// returns the same shared <see cref="FileH"/> with one more reference.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The connection is closed.</exception>
    /// <exception cref="WcfsClientException">No such file on the mount as of <see cref="At"/>.</exception>
    /// <exception cref="WcfsServerGoneException">The server is gone.</exception>
    public async Task<FileH> OpenAsync(Oid oid, CancellationToken cancellationToken = default)
    {
        _lifetime.ThrowIfClosed($"open {oid}");
        return (await ClientAsk.Ask<ConnProtocol.Opened>(Actor, new ConnProtocol.Open(oid), _askTimeout, $"open {oid}", cancellationToken).ConfigureAwait(false)).File;
    }

    /// <summary>
    /// Moves the connection forward to <paramref name="at"/> (waits until the server reached it): sizes are
    /// refreshed, grown blocks un-zeroed (pins kept), every open file re-watched. Going back is refused
    /// with <see cref="InvalidOperationException"/> and closes the connection.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The connection is closed.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="at"/> is before <see cref="At"/> (the connection is closed).</exception>
    /// <exception cref="WcfsServerGoneException">The server is gone.</exception>
    /// <exception cref="TimeoutException">The server did not reach <paramref name="at"/> in time.</exception>
    public async Task ResyncAsync(Tid at, CancellationToken cancellationToken = default)
    {
        _lifetime.ThrowIfClosed($"resync to @{at}");
        if (at >= At)
            await _client.WaitHeadAtAsync(at, $"resync to @{at}", cancellationToken).ConfigureAwait(false);
        var r = await ClientAsk.Ask<ConnProtocol.Resynced>(Actor, new ConnProtocol.Resync(at), _askTimeout, $"resync to @{at}", cancellationToken).ConfigureAwait(false);
        At = r.At;
    }

    /// <summary>What the ConnActor knows (diagnostics, tests).</summary>
    public Task<ConnProtocol.ConnState> GetStateAsync(CancellationToken cancellationToken = default) =>
        ClientAsk.Ask<ConnProtocol.ConnState>(Actor, new ConnProtocol.GetState(), _askTimeout, "conn state", cancellationToken);

    /// <summary>Un-watches every file, makes every mapping of this connection fault, closes the link.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_lifetime.IsClosed)
            return;
        await ClientAsk.Ask<ConnProtocol.Closed>(Actor, new ConnProtocol.Close(), _askTimeout, "close conn").ConfigureAwait(false);
    }
}
