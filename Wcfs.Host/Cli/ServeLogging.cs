// ServeLogging - the Serilog logger of `wcfs serve`: text or compact JSON (--log-format), to stderr
// or to a file rotated by size (--log-file, --log-file-size; the autostart launcher passes
// --log-file <mountpoint>.log). Templates are named everywhere in the server and the runtime
// (oid, blk, rev, at, link become properties), so the JSON form is queryable as it is.
//
// Rotation: Serilog.Sinks.File rolls FILE to FILE_001, FILE_002, ... when it reaches the limit and
// keeps the last RetainedFiles files, so a long-running server's log never grows without bound.
// `shared: true` lets a second server that lost the start race (and exits at once) write its one
// line into the same file without an exception.
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace Wcfs.Host.Cli;

internal static class ServeLogging
{
    /// <summary>Log files kept (the current one included).</summary>
    public const int RetainedFiles = 5;

    private const string TextTemplate = "{Timestamp:HH:mm:ss.fff} [{Level:u3}] wcfs: {Message:lj}{NewLine}{Exception}";
    private const string FileTextTemplate = "{Timestamp:yyyy-MM-dd HH:mm:ss.fff} [{Level:u3}] wcfs[{ProcessId}]: {Message:lj}{NewLine}{Exception}";

    public static Logger Create(bool verbose, bool json, string? file, long rotateAtBytes)
    {
        var c = new LoggerConfiguration()
            .MinimumLevel.Is(verbose ? LogEventLevel.Debug : LogEventLevel.Information)
            .Enrich.WithProperty("ProcessId", Environment.ProcessId);
        if (file is null)
        {
            c = json
                ? c.WriteTo.Console(new CompactJsonFormatter(), standardErrorFromLevel: LogEventLevel.Verbose)
                : c.WriteTo.Console(standardErrorFromLevel: LogEventLevel.Verbose, outputTemplate: TextTemplate);
        }
        else
        {
            var path = Path.GetFullPath(file);
            c = json
                ? c.WriteTo.File(new CompactJsonFormatter(), path, fileSizeLimitBytes: rotateAtBytes, rollOnFileSizeLimit: true,
                    retainedFileCountLimit: RetainedFiles, shared: true)
                : c.WriteTo.File(path, outputTemplate: FileTextTemplate, fileSizeLimitBytes: rotateAtBytes, rollOnFileSizeLimit: true,
                    retainedFileCountLimit: RetainedFiles, shared: true);
        }
        return c.CreateLogger();
    }
}
