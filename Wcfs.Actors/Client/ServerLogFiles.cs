// ServerLogFiles - where a detached `wcfs serve` (autostart, a conn's native restart) writes: its own
// log <mnt>.log, rotated by size by the server (Serilog: <mnt>.log, <mnt>_001.log, ...), and
// <mnt>.stderr, which gets its stdout and stderr (only what comes before its logger or after a
// crash). Both are created 0600 without following a symlink, in a mount root checked private just
// before (PrivateFiles.cs), so opening them by path later (the server's file sink, the launcher's
// shell) is safe: only the user can swap them.
//
// A start that fails is reported with what THIS start wrote (Mark, then TailSince): both files are
// appended to by every server of the mountpoint, and an old line would blame the wrong start.
using System.Text;
using Wcfs.Actors.Protocol;

namespace Wcfs.Actors.Client;

/// <summary>The log files of the detached servers of one mountpoint.</summary>
/// <param name="Log">The server's own log (<c>--log-file</c>), <c>&lt;mnt&gt;.log</c>.</param>
/// <param name="Stderr">The server's stdout and stderr, <c>&lt;mnt&gt;.stderr</c>.</param>
internal sealed record ServerLogFiles(string Log, string Stderr)
{
    /// <summary>How many lines of each file a failure message quotes.</summary>
    private const int TailLines = 3;

    /// <summary>A position in both files: the current log file and the lengths of both.</summary>
    public sealed record Position(string CurrentLog, long LogLength, long StderrLength);

    /// <summary>The files of <paramref name="mountpoint"/>'s servers, created 0600 in its private mount root.</summary>
    /// <exception cref="UnsafePathException">The mount root or a file is not private to the user.</exception>
    public static ServerLogFiles Create(string mountpoint)
    {
        var mnt = mountpoint.TrimEnd('/');
        PrivateFiles.EnsurePrivateDirectory(Path.GetDirectoryName(mnt)!);
        var files = new ServerLogFiles(mnt + ".log", mnt + ".stderr");
        PrivateFiles.OpenPrivate(files.Log, append: true).Dispose();
        PrivateFiles.OpenPrivate(files.Stderr, append: true).Dispose();
        return files;
    }

    /// <summary>The log file the server writes now: the newest of <c>&lt;mnt&gt;.log</c> and its rolled <c>&lt;mnt&gt;_NNN.log</c>.</summary>
    public string CurrentLog()
    {
        var dir = Path.GetDirectoryName(Log)!;
        var name = Path.GetFileNameWithoutExtension(Log);
        return Directory.EnumerateFiles(dir, name + "_*.log").Append(Log)
            .Where(File.Exists)
            .OrderByDescending(File.GetLastWriteTimeUtc)
            .FirstOrDefault() ?? Log;
    }

    /// <summary>Where both files end now (before a start).</summary>
    public Position Mark()
    {
        var log = CurrentLog();
        return new Position(log, Length(log), Length(Stderr));
    }

    /// <summary>The last lines each file got since <paramref name="mark"/>, joined with " | ", naming the files.</summary>
    public string TailSince(Position mark)
    {
        var log = CurrentLog();
        var parts = new List<string>();
        var logTail = Tail(log, log == mark.CurrentLog ? mark.LogLength : 0);
        if (logTail.Length > 0)
            parts.Add(logTail);
        var errTail = Tail(Stderr, mark.StderrLength);
        if (errTail.Length > 0)
            parts.Add(errTail);
        return parts.Count == 0
            ? $"it wrote nothing to {log} or {Stderr}"
            : string.Join(" | ", parts) + $" (see {log} and {Stderr})";
    }

    private static long Length(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static string Tail(string path, long from)
    {
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (from > f.Length)
                from = 0; // truncated or replaced since the mark
            f.Position = from;
            using var r = new StreamReader(f, Encoding.UTF8);
            var lines = r.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return string.Join(" | ", lines.TakeLast(TailLines));
        }
        catch (IOException)
        {
            return "";
        }
    }
}
