// ConfigFile - the one reader of a --config FILE for every command: a file that cannot be read is a
// CommandException ("cannot read config F: ..."), text the HOCON parser rejects (it throws
// FormatException, ConfigurationException and others) a ConfigurationException ("invalid config F:
// ..."): both end as one line of the command, never as a stack trace.
//
// The parser's message is not passed on whole: for a syntax error it goes on with the offending line
// of the file and a caret under it, and that line may hold a password (a PostgreSQL URL). So the
// error keeps only the message's first line, turns "at position N" into a line and column of the
// file, and passes it through UrlRedaction (a secret never reaches an exception text or a log).
using System.Globalization;
using System.Text.RegularExpressions;
using Akka.Configuration;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static partial class ConfigFile
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
        catch (Exception e)
        {
            throw new ConfigurationException($"invalid config {path}: {ParserError(e.Message, text)}");
        }
    }

    /// <summary>The first line of the parser's <paramref name="message"/>, its position as line and column of
    /// <paramref name="text"/>, storage URLs redacted (see the file comment).</summary>
    private static string ParserError(string message, string text)
    {
        var first = message.Split('\n', 2)[0].Trim().TrimEnd(':').TrimEnd();
        var m = PositionPattern().Match(first);
        if (m.Success && int.TryParse(m.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var pos) && pos <= text.Length)
        {
            var lineStart = pos == 0 ? 0 : text.LastIndexOf('\n', pos - 1) + 1;
            var line = 1 + text.AsSpan(0, pos).Count('\n');
            first += string.Create(CultureInfo.InvariantCulture, $" (line {line}, column {pos - lineStart + 1})");
        }
        return UrlRedaction.Redact(first);
    }

    [GeneratedRegex(@"at position (\d+)")]
    private static partial Regex PositionPattern();
}
