// WcfsCommandLine - the root of the `wcfs` command tree (API.md §4).
//
// Exit codes: 0 success; 1 failure with one clear line on stderr (CliErrors); 2 usage error.
// Each command group lives in its own file and exposes `static Command Create()`; adding a
// command is one line in Build().
using System.CommandLine;

namespace Wcfs.Host.Cli;

internal static class WcfsCommandLine
{
    public const int ExitOk = 0, ExitFailure = 1, ExitUsage = 2;

    /// <summary>The whole command tree.</summary>
    public static RootCommand Build()
    {
        var root = new RootCommand("wcfs - transactional big files served to every process through one shared page cache");
        root.Subcommands.Add(FileCommands.Create());
        root.Subcommands.Add(CommitCommand.Create());
        root.Subcommands.Add(PackCommand.Create());
        root.Subcommands.Add(PackCommand.CreateDu());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(BenchLmdb.ReaderCommand());
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(DebugCommands.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(StatusCommand.Create());
        root.Subcommands.Add(StatsCommand.Create());
        root.Subcommands.Add(StopCommand.Create());
        root.Subcommands.Add(MountpointCommand.Create());
        root.Subcommands.Add(ServeTestClientCommand.Create());
        root.Subcommands.Add(ClientTestCommand.Create());
        root.Subcommands.Add(VirtmemSelfTestCommand.Create());
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var result = Build().Parse(args);
        if (result.Errors.Count > 0)
        {
            // One line (API.md §4): the first error says what to fix; --help says the rest.
            var names = new List<string>();
            for (var c = result.CommandResult.Command; c is not null and not RootCommand; c = c.Parents.OfType<Command>().FirstOrDefault())
                names.Insert(0, c.Name);
            var error = result.Errors.FirstOrDefault(e => e.Message.StartsWith("Unrecognized", StringComparison.Ordinal)) ?? result.Errors[0];
            await Console.Error.WriteLineAsync($"wcfs: {error.Message} (see: wcfs {string.Join("", names.Select(n => n + " "))}--help)");
            return ExitUsage;
        }
        return await result.InvokeAsync();
    }
}
