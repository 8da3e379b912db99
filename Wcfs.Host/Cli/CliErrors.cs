// CliErrors - how a command's failure becomes an exit code and one line on stderr (API.md §4).
//
// Usage errors (malformed ids, missing arguments) → exit 2; every other expected failure
// (storage refused, conflict, bad input data, I/O, the WCFS client's failures such as a server gone) → exit 1. Unexpected exceptions are bugs: they
// keep their stack trace.
using System.Text.Json;
using Akka.Configuration;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

/// <summary>A command-line usage error (exit 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>An expected failure of a command (exit 1) whose message says what was wrong.</summary>
internal sealed class CommandException(string message) : Exception(message);

internal static class CliErrors
{
    /// <summary>Runs a command body, mapping expected failures to exit codes and one stderr line.</summary>
    public static async Task<int> RunAsync(Func<Task<int>> body)
    {
        try
        {
            return await body();
        }
        catch (UsageException e)
        {
            await Console.Error.WriteLineAsync($"wcfs: {e.Message}");
            return WcfsCommandLine.ExitUsage;
        }
        catch (Exception e) when (e is CommandException or StorageException or ConflictException or ArgumentException
                                   or JsonException or IOException or UnauthorizedAccessException or ConfigurationException
                                   or Wcfs.Actors.Client.WcfsClientException)
        {
            await Console.Error.WriteLineAsync($"wcfs: {OneLine(e.Message)}");
            return WcfsCommandLine.ExitFailure;
        }
    }

    /// <summary>Synchronous form of <see cref="RunAsync"/>.</summary>
    public static Task<int> Run(Func<int> body) => RunAsync(() => Task.FromResult(body()));

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");
}
