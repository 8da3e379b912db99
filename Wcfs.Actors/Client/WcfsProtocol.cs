// WcfsProtocol - messages, settings and Props of WcfsActor, the parent of every ConnActor of one
// mounted WCFS server (STYLE.md "Actors").
//
//   C: Connect(at, lifetime)   S: ConnProtocol.Started(conn) | Status.Failure
//   C: GetConns                S: Conns(its ConnActors)                  (the health check)
//   ConnActor -> parent: ConnReattached (a conn re-attached to a new server: the client renews its
//   liveness handle .wcfs/zurl off the actor thread - the open goes to the server)
using Akka.Actor;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Client;

/// <summary>Messages, settings and Props of WcfsActor.</summary>
public static class WcfsProtocol
{
    /// <summary>The dispatcher of the client actors (reference.conf).</summary>
    public const string DispatcherId = "wcfs.client.dispatcher";

    /// <summary>Creates a ConnActor at <paramref name="At"/>. Reply: <see cref="ConnProtocol.Started"/>.</summary>
    internal sealed record Connect(Tid At, ConnLifetime Lifetime);

    /// <summary>Asks for the client's live ConnActors. Reply: <see cref="Conns"/>.</summary>
    public sealed record GetConns;

    /// <summary>The client's live ConnActors.</summary>
    public sealed record Conns(IReadOnlyList<IActorRef> Refs);

    /// <summary>From a ConnActor: its conn re-attached to a new server on the mountpoint.</summary>
    internal sealed record ConnReattached;

    /// <summary>Props of the WcfsActor of one mountpoint.</summary>
    /// <param name="mountpoint">The WCFS mount.</param>
    /// <param name="settings">The client settings.</param>
    /// <param name="autostart">How to start a new server when the server dies, null: never.</param>
    /// <param name="reattached">Called (on a pool thread) when a conn re-attached to a new server.</param>
    public static Props Props(string mountpoint, WcfsClientSettings settings, WcfsServer.DetachedStart? autostart = null, Action? reattached = null) =>
        Akka.Actor.Props.Create(() => new WcfsActor(mountpoint, settings, autostart, reattached));
}

internal sealed class WcfsActor : ReceiveActor
{
    private long _next;

    public WcfsActor(string mountpoint, WcfsClientSettings settings, WcfsServer.DetachedStart? autostart, Action? reattached)
    {
        Receive<WcfsProtocol.ConnReattached>(_ => { if (reattached is not null) Task.Run(reattached); });
        Receive<WcfsProtocol.Connect>(c =>
        {
            var s = new ConnProtocol.Settings(mountpoint, WcfsProtocol.DispatcherId, settings.AskTimeout, settings.ReattachTimeout, autostart);
            var conn = Context.ActorOf(ConnProtocol.Props(s, c.Lifetime), $"conn-{++_next}");
            conn.Forward(new ConnProtocol.Start(c.At));
        });
        Receive<WcfsProtocol.GetConns>(_ => Sender.Tell(new WcfsProtocol.Conns([.. Context.GetChildren()])));
    }

    // a failing conn stops (its mappings were made to fault); other conns are not affected
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);
}
