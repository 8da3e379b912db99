// wcfs - the command-line tool: storage commands, the WCFS server, demo and bench (API.md §4).
using Wcfs.Host.Cli;

return await WcfsCommandLine.RunAsync(args);
