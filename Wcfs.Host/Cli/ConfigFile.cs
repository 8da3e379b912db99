// ConfigFile - the one reader of a --config FILE for every command: a file that cannot be read is a
// CommandException ("cannot read config F: ..."), text the HOCON parser rejects (it throws
// FormatException and others, never ConfigurationException) a ConfigurationException ("invalid
// config F: ..."): both end as one line of the command, never as a stack trace.
using Akka.Configuration;

namespace Wcfs.Host.Cli;

internal static class ConfigFile
{
    public static Config Parse(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandException($"cannot read config {path}: {e.Message}");
        }
        try
        {
            return ConfigurationFactory.ParseString(text);
        }
        catch (Exception e) when (e is not ConfigurationException)
        {
            throw new ConfigurationException($"invalid config {path}: {e.Message}");
        }
    }
}
