// WcfsProtocol - messages, settings and Props of WcfsActor, the parent of every ConnActor of one
// mounted WCFS server (STYLE.md "Actors").
//
//   C: Connect(at, lifetime)   S: ConnProtocol.Started(conn) | Status.Failure
using Akka.Actor;
using Akka.Configuration;
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

    /// <summary>Client settings (<c>wcfs.client</c>), validated; errors name the key.</summary>
    /// <param name="AskTimeout"><c>wcfs.client.ask-timeout</c>: how long the public API waits for an actor.</param>
    /// <param name="StartTimeout"><c>wcfs.client.start-timeout</c>: how long JoinAsync/ConnectAsync wait for the server.</param>
    /// <param name="ReattachTimeout"><c>wcfs.client.reattach-timeout</c>: how long a conn whose server died waits for a new one (zero: not at all).</param>
    public sealed record ClientSettings(TimeSpan AskTimeout, TimeSpan StartTimeout, TimeSpan ReattachTimeout)
    {
        /// <summary>Reads <c>wcfs.client</c> from <paramref name="config"/> (reference.conf as fallback).</summary>
        public static ClientSettings FromConfig(Config? config)
        {
            var c = WcfsSettings.WithReference(config);
            return new ClientSettings(Positive(c, "wcfs.client.ask-timeout"), Positive(c, "wcfs.client.start-timeout"),
                Duration(c, "wcfs.client.reattach-timeout", allowZero: true));
        }

        private static TimeSpan Positive(Config c, string key) => Duration(c, key, allowZero: false);

        private static TimeSpan Duration(Config c, string key, bool allowZero)
        {
            TimeSpan v;
            try
            {
                v = c.GetTimeSpan(key, null, allowInfinite: false);
            }
            catch (Exception e) when (e is FormatException or ConfigurationException or OverflowException)
            {
                throw new ConfigurationException($"{key}: not a duration ({e.Message})");
            }
            if (allowZero && v == TimeSpan.Zero)
                return v;
            return v > TimeSpan.Zero ? v : throw new ConfigurationException($"{key}: must be a {(allowZero ? "non-negative" : "positive")} duration");
        }
    }

    /// <summary>Props of the WcfsActor of one mountpoint.</summary>
    /// <param name="mountpoint">The WCFS mount.</param>
    /// <param name="settings">The client settings.</param>
    /// <param name="autostart">How to start a new server when the server dies (argv), null: never.</param>
    public static Props Props(string mountpoint, ClientSettings settings, IReadOnlyList<string>? autostart = null) =>
        Akka.Actor.Props.Create(() => new WcfsActor(mountpoint, settings, autostart));
}

internal sealed class WcfsActor : ReceiveActor
{
    private long _next;

    public WcfsActor(string mountpoint, WcfsProtocol.ClientSettings settings, IReadOnlyList<string>? autostart)
    {
        Receive<WcfsProtocol.Connect>(c =>
        {
            var s = new ConnProtocol.Settings(mountpoint, WcfsProtocol.DispatcherId, settings.AskTimeout, settings.ReattachTimeout, autostart);
            var conn = Context.ActorOf(ConnProtocol.Props(s, c.Lifetime), $"conn-{++_next}");
            conn.Forward(new ConnProtocol.Start(c.At));
        });
    }

    // a failing conn stops (its mappings were made to fault); other conns are not affected
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);
}
