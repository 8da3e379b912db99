// ConnProtocol - messages and Props of ConnActor (STYLE.md "Actors").
//
//   WcfsActor: Start(at)          S: Started(self)   | Status.Failure   (opens the link + pinner)
//   C: Open(oid)                  S: Opened(FileH)   | Status.Failure   (shared: refcount)
//   C: Release(oid)               S: Released                           (last ref: unwatch, close)
//   C: Resync(at)                 S: Resynced(at)    | Status.Failure   (going back: conn closed)
//   C: Close                      S: Closed                             (unwatch all, bye)
//   PinnerActor: Reply / PinObserved / (strategy) LinkDown
using Akka.Actor;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Client;

/// <summary>Messages, settings and Props of ConnActor.</summary>
public static class ConnProtocol
{
    /// <summary>Open the watch link at <paramref name="At"/>. Reply: <see cref="Started"/>.</summary>
    public sealed record Start(Tid At);

    /// <summary>The conn is up.</summary>
    public sealed record Started(IActorRef Conn);

    /// <summary>Open (or share) the file. Reply: <see cref="Opened"/>.</summary>
    public sealed record Open(Oid File);

    /// <summary>The shared FileH of the file.</summary>
    public sealed record Opened(FileH File);

    /// <summary>Drop one reference of the file; the last one un-watches and closes it. Reply: <see cref="Released"/>.</summary>
    public sealed record Release(Oid File);

    /// <summary>The reference is dropped.</summary>
    public sealed record Released(Oid File);

    /// <summary>Move the conn forward to <paramref name="At"/>. Reply: <see cref="Resynced"/>.</summary>
    public sealed record Resync(Tid At);

    /// <summary>The conn is at <paramref name="At"/>.</summary>
    public sealed record Resynced(Tid At);

    /// <summary>Close the conn (its mappings fault). Reply: <see cref="Closed"/>.</summary>
    public sealed record Close;

    /// <summary>The conn is closed.</summary>
    public sealed record Closed;

    /// <summary>Asks for the conn's state. Reply: <see cref="ConnState"/>.</summary>
    public sealed record GetState;

    /// <summary>
    /// at, open files with their reference counts, why the conn is broken (null if it is not), what it
    /// waits for while it re-attaches (null if it does not), and whether its PinnerActor runs.
    /// </summary>
    public sealed record ConnState(Tid At, IReadOnlyDictionary<Oid, int> Files, string? Broken, string? Reattaching = null, bool PinnerAlive = true);

    /// <summary>Settings of a conn.</summary>
    /// <param name="Mountpoint">The WCFS mount.</param>
    /// <param name="Dispatcher">Where the blocking native calls run (<c>wcfs.client.dispatcher</c>).</param>
    /// <param name="AskTimeout">Timeout of the edge API.</param>
    /// <param name="ReattachTimeout">How long the conn waits for a new server when its server died (zero: not at all).</param>
    /// <param name="Autostart">The command that starts a new server when this conn's server died (run natively); null: wait for one.</param>
    public sealed record Settings(string Mountpoint, string Dispatcher, TimeSpan AskTimeout, TimeSpan ReattachTimeout = default, WcfsServer.DetachedStart? Autostart = null);

    /// <summary>Props of a conn actor.</summary>
    internal static Props Props(Settings settings, ConnLifetime lifetime) =>
        Akka.Actor.Props.Create(() => new ConnActor(settings, lifetime)).WithDispatcher(settings.Dispatcher);
}
