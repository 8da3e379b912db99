// StderrLogger - the Akka logger of the actor systems the library creates itself (a WcfsClient or a
// Database without a host-supplied ActorSystem): one line per event on stderr. A library never
// writes to its host's stdout, and a log line never carries a stack trace (the cause's message is
// appended). A host that configures akka.loggers itself keeps its loggers.
using Akka.Actor;
using Akka.Configuration;
using Akka.Event;

namespace Wcfs.Actors.Configuration;

/// <summary>Akka logger writing one line per event to stderr (used for actor systems the library owns).</summary>
public sealed class StderrLogger : ReceiveActor
{
    /// <summary>Creates the logger (Akka does, from <c>akka.loggers</c>).</summary>
    public StderrLogger()
    {
        Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
        Receive<LogEvent>(e => Console.Error.WriteLine(Line(e)));
    }

    /// <summary>"[WARNING] source: message: cause" on one line.</summary>
    public static string Line(LogEvent e)
    {
        var text = $"[{e.LogLevel().ToString().Replace("Level", "", StringComparison.Ordinal).ToUpperInvariant()}] {e.LogSource}: {e.Message}";
        if (e.Cause is { } cause)
            text += ": " + cause.GetType().Name + ": " + cause.Message;
        return text.ReplaceLineEndings(" ");
    }

    /// <summary><paramref name="config"/> with this logger and no stdout logging, unless it sets akka.loggers itself.</summary>
    public static Config For(Config config) =>
        config.HasPath("akka.loggers") ? config
            : ConfigurationFactory.ParseString($"akka {{ loggers = [\"{typeof(StderrLogger).FullName}, {typeof(StderrLogger).Assembly.GetName().Name}\"], stdout-loglevel = OFF }}").WithFallback(config);
}
