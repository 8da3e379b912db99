// StderrLogger - the Akka logger of the actor systems the library creates itself (a WcfsClient or a
// Database without a host-supplied ActorSystem): one line per event on stderr, warnings and up. A
// library never writes to its host's stdout (Akka's StandardOutLogger is off: stdout-loglevel = OFF,
// which also covers the start and the shutdown of the system, when Akka's own loggers are not up),
// nor its INFO chatter ("CoordinatedShutdown invoked ...") to stderr; a log line never carries a
// stack trace (the cause's message is appended). What the app's Config sets itself (akka.loggers,
// akka.loglevel, akka.stdout-loglevel) is kept. A host's own ActorSystem is never changed: its
// logging is the host's (Akka.Hosting: ConfigureLoggers). ConsoleSampleTests proves it.
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

    /// <summary>
    /// <paramref name="config"/> with this logger at WARNING and no stdout logging: each of akka.loggers,
    /// akka.loglevel and akka.stdout-loglevel that <paramref name="config"/> does not set itself.
    /// </summary>
    public static Config For(Config config)
    {
        var defaults = new List<string>();
        if (!config.HasPath("akka.loggers"))
            defaults.Add($"akka.loggers = [\"{typeof(StderrLogger).FullName}, {typeof(StderrLogger).Assembly.GetName().Name}\"]");
        if (!config.HasPath("akka.loglevel"))
            defaults.Add("akka.loglevel = WARNING");
        if (!config.HasPath("akka.stdout-loglevel"))
            defaults.Add("akka.stdout-loglevel = OFF");
        return defaults.Count == 0 ? config : ConfigurationFactory.ParseString(string.Join('\n', defaults)).WithFallback(config);
    }
}
