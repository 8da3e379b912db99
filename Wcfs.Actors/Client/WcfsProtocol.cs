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
    public sealed record ClientSettings(TimeSpan AskTimeout, TimeSpan StartTimeout)
    {
        /// <summary>Reads <c>wcfs.client</c> from <paramref name="config"/> (reference.conf as fallback).</summary>
        public static ClientSettings FromConfig(Config? config)
        {
            var c = WcfsSettings.WithReference(config);
            return new ClientSettings(Positive(c, "wcfs.client.ask-timeout"), Positive(c, "wcfs.client.start-timeout"));
        }

        private static TimeSpan Positive(Config c, string key)
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
            if (v <= TimeSpan.Zero)
                throw new ConfigurationException($"{key}: must be a positive duration");
            return WcfsSettings.CheckDuration(v) is { } why ? throw new ConfigurationException($"{key}: {why}") : v;
        }
    }

    /// <summary>Props of the WcfsActor of one mountpoint.</summary>
    public static Props Props(string mountpoint, ClientSettings settings) =>
        Akka.Actor.Props.Create(() => new WcfsActor(mountpoint, settings));
}

internal sealed class WcfsActor : ReceiveActor
{
    private long _next;

    public WcfsActor(string mountpoint, WcfsProtocol.ClientSettings settings)
    {
        Receive<WcfsProtocol.Connect>(c =>
        {
            var s = new ConnProtocol.Settings(mountpoint, WcfsProtocol.DispatcherId, settings.AskTimeout);
            var conn = Context.ActorOf(ConnProtocol.Props(s, c.Lifetime), $"conn-{++_next}");
            conn.Forward(new ConnProtocol.Start(c.At));
        });
    }

    // a failing conn stops (its mappings were made to fault); other conns are not affected
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);
}
