// WcfsServer - the one launcher of `wcfs serve` (PROTOCOL.md §5): autostart (WcfsClient.JoinAsync,
// Database, `wcfs demo`), the tests' server children and the benchmarks all start it here.
//
// What it owns: finding the `wcfs` tool, the command line of `wcfs serve`, the settings file handed
// to the server, and (for autostart) starting a detached server and waiting until its mount answers.
// What it does not own: the server itself (Wcfs.Host, `wcfs serve`), the mount protocol
// (Protocol/MountPoint.cs).
//
// Finding the tool, in this order (API.md §4):
//   1. $WCFS_EXE: an executable, or a wcfs.dll run with `dotnet`;
//   2. `wcfs` on PATH (the .NET tool: `dotnet tool install --global wcfs`);
//   3. wcfs.dll next to the application (AppContext.BaseDirectory).
// None found: WcfsToolNotFoundException at once, naming the three places and how to install.
//
// Handing over settings: every server setting (wcfs.server.*) and the storage URL go to the server as
// one HOCON text (SettingsText); the command line holds the mountpoint and `--config` only. A
// PostgreSQL password in the URL is therefore never on a command line (visible in ps to every user)
// nor in the environment. A detached server (autostart here, a conn's native restart) reads the text
// on its stdin (`wcfs serve --config -`): a pipe the launcher fills, so no file holds the URL, not
// even after the launching process was killed (a settings file left behind by a process that never
// disposed its client used to keep the URL in the mount root for good). Callers of StartInfo (tests,
// benchmarks: foreground children) get a settings file `<mountpoint>.serve-<pid>-<n>.conf`, created
// 0600 in the directory they chose (Request.SettingsDirectory), which they delete with it.
//
// Logs of a detached server (autostart, and a conn's native restart): the server writes its own log,
// `--log-file <mnt>.log`, rotated by size by the server (`wcfs serve --log-file-size`, default 16 MiB,
// the last 5 files kept: <mnt>.log, <mnt>_001.log, ...; Wcfs.Host's ServeLogging). Its stdout and
// stderr, which then carry only what comes before its logger or after a crash (a usage error, an
// unhandled exception, a native fatal line), are appended to <mnt>.stderr. Both are created 0600 in
// the private mount root before the server starts (ServerLogFiles).
//
// Autostart, as a sequence:
//   probe <mnt>/.wcfs/zurl -> Running: done
//   start `setsid sh -c 'exec "$@" >>STDERR 2>&1' sh TOOL serve ... --config - --log-file LOG`, write the
//     settings to its stdin and close it
//     (own session: a Ctrl-C of the app's terminal does not reach the server; setsid execs in place,
//      so the Process we hold IS the server and its early exit is seen within one poll)
//   poll the mount every 20 ms until Running, up to wcfs.client.start-timeout
//     the child exited -> if another starter holds the server's lock file, keep waiting for that one
//                         (a race of starters ends with one server); else fail at once with what
//                         this start wrote to <mnt>.stderr and the log (their last lines)
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>No <c>wcfs</c> tool was found to start a server with; the message names where it was looked for.</summary>
public sealed class WcfsToolNotFoundException(string message) : WcfsClientException(message);

/// <summary>How to run the <c>wcfs</c> tool: an executable (or <c>dotnet</c>) and the arguments before the command.</summary>
/// <param name="FileName">The program to execute.</param>
/// <param name="Prefix">Arguments before the wcfs command (the wcfs.dll path when run with dotnet).</param>
/// <param name="Origin">Where it was found, for messages ("$WCFS_EXE", "PATH", "next to the application").</param>
public sealed record WcfsTool(string FileName, IReadOnlyList<string> Prefix, string Origin)
{
    /// <summary>Finds the tool: <c>$WCFS_EXE</c>, then <c>wcfs</c> on PATH, then wcfs.dll next to the application.</summary>
    /// <exception cref="WcfsToolNotFoundException">None of the three.</exception>
    public static WcfsTool Find()
    {
        var env = Environment.GetEnvironmentVariable("WCFS_EXE");
        if (!string.IsNullOrEmpty(env))
            return File.Exists(env) ? FromPath(env, "$WCFS_EXE")
                : throw new WcfsToolNotFoundException($"WCFS_EXE={env} does not exist: point it at the wcfs executable or wcfs.dll, or unset it");
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, "wcfs");
            if (File.Exists(candidate) && !OperatingSystem.IsWindows() && (File.GetUnixFileMode(candidate) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                return new WcfsTool(candidate, [], "PATH");
        }
        var local = Path.Combine(AppContext.BaseDirectory, "wcfs.dll");
        if (File.Exists(local))
            return FromPath(local, "next to the application");
        throw new WcfsToolNotFoundException(
            $"cannot start a WCFS server: the wcfs tool was not found ($WCFS_EXE is not set, no wcfs on PATH, no wcfs.dll in {AppContext.BaseDirectory}); "
            + "install it with `dotnet tool install --global wcfs` (and have ~/.dotnet/tools on PATH), or set WCFS_EXE");
    }

    private static WcfsTool FromPath(string file, string origin) =>
        file.EndsWith(".dll", StringComparison.Ordinal) ? new WcfsTool(DotnetHost(), [file], origin) : new WcfsTool(file, [], origin);

    /// <summary>The dotnet host running this process if it is one (so a wcfs.dll runs on the same runtime), else "dotnet".</summary>
    private static string DotnetHost()
    {
        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }

    /// <summary>The argument list of <c>wcfs <paramref name="command"/></c>: <see cref="FileName"/> then these.</summary>
    public IReadOnlyList<string> Arguments(IEnumerable<string> command) => [.. Prefix, .. command];

    /// <summary>A start info for <c>wcfs <paramref name="command"/></c> (no shell; arguments passed as a
    /// list; the runtime settings of <see cref="Hosting.RuntimeKnobs"/>).</summary>
    public ProcessStartInfo StartInfo(IEnumerable<string> command)
    {
        var psi = new ProcessStartInfo(FileName) { UseShellExecute = false };
        foreach (var a in Arguments(command))
            psi.ArgumentList.Add(a);
        return Hosting.RuntimeKnobs.ApplyTo(psi);
    }

    /// <inheritdoc />
    public override string ToString() => string.Join(' ', [FileName, .. Prefix]) + $" ({Origin})";
}

/// <summary>Discovery and start of the WCFS server of a storage URL.</summary>
public static class WcfsServer
{
    /// <summary>What a <c>wcfs serve</c> is started with.</summary>
    /// <param name="Url">The storage URL (may hold a password: it goes to the server's settings only, on stdin or in a 0600 file).</param>
    /// <param name="Mountpoint">Where to mount.</param>
    /// <param name="Server">Every server setting (wcfs.server.*).</param>
    public sealed record Request(string Url, string Mountpoint, WcfsServerSettings Server)
    {
        /// <summary>More arguments for <c>wcfs serve</c> (e.g. <c>--verbose</c>).</summary>
        public IReadOnlyList<string> ExtraArguments { get; init; } = [];

        /// <summary>Where the 0600 settings file of <see cref="StartInfo"/> goes; null: next to the mountpoint.</summary>
        public string? SettingsDirectory { get; init; }
    }

    /// <summary>The command (argv) that starts a detached <c>wcfs serve</c> and returns at once, and the
    /// settings it must get on stdin (HOCON, storage URL included: keep it out of logs and messages).</summary>
    public sealed record DetachedStart(IReadOnlyList<string> Argv, string Input)
    {
        /// <inheritdoc />
        public override string ToString() => string.Join(' ', Argv) + " (settings on stdin)"; // never the URL
    }

    private static int _nextFile;

    /// <summary>
    /// Writes the request's settings file (mode 0600) and returns the start info of
    /// <c>wcfs serve --mountpoint MNT --config FILE</c> and the file (the caller deletes it when the
    /// server answered or the directory goes).
    /// </summary>
    /// <exception cref="WcfsToolNotFoundException">No wcfs tool (see <see cref="WcfsTool.Find"/>).</exception>
    public static (ProcessStartInfo StartInfo, string SettingsFile) StartInfo(Request request, WcfsTool? tool = null)
    {
        tool ??= WcfsTool.Find();
        var file = WriteSettingsFile(request);
        return (tool.StartInfo(ServeArguments(request, file)), file);
    }

    /// <summary>The arguments after <c>wcfs</c>: serve, the mountpoint, the settings file, the server's own log file (detached servers), the extras.</summary>
    private static IEnumerable<string> ServeArguments(Request r, string settingsFile, string? logFile = null) =>
        ["serve", "--mountpoint", r.Mountpoint, "--config", settingsFile, .. logFile is null ? [] : new[] { "--log-file", logFile }, .. r.ExtraArguments];

    /// <summary>The settings of one <c>wcfs serve</c>: the storage URL and every server setting, as HOCON.</summary>
    private static string SettingsText(Request r) => new StringBuilder()
        .Append("# written by the wcfs launcher for one `wcfs serve`; holds the storage URL\n")
        .Append("wcfs.storage = ").Append(HoconString(r.Url)).Append('\n')
        .Append(WcfsSettings.ServerHocon(r.Server))
        .ToString();

    private static string WriteSettingsFile(Request r)
    {
        var mnt = r.Mountpoint.TrimEnd('/');
        var dir = r.SettingsDirectory ?? Path.GetDirectoryName(mnt)!;
        PrivateFiles.EnsurePrivateDirectory(dir); // the mount root: private (PrivateFiles.cs)
        var name = $"{Path.GetFileName(mnt)}.serve-{Environment.ProcessId}-{Interlocked.Increment(ref _nextFile)}.conf";
        var path = Path.Combine(dir, name);
        var text = SettingsText(r);
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // the URL may hold a password
        using (var w = new StreamWriter(path, Encoding.UTF8, options))
            w.Write(text);
        return path;
    }

    private static string HoconString(string s) =>
        "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    /// <summary>
    /// Returns the mountpoint of a running server for <paramref name="url"/> (at
    /// <paramref name="mountpoint"/>, default <c>&lt;mount-root&gt;/&lt;hash of url&gt;</c>), starting a
    /// detached one with every setting of <paramref name="settings"/> if none runs (a stale mount of a
    /// crashed server is cleaned up by the new server).
    /// </summary>
    /// <exception cref="WcfsToolNotFoundException">No wcfs tool to start a server with.</exception>
    /// <exception cref="WcfsClientException">The server exited at once (the message quotes its log).</exception>
    /// <exception cref="TimeoutException">No server answered within <paramref name="timeout"/> (default wcfs.client.start-timeout).</exception>
    /// <exception cref="InvalidOperationException">The mountpoint is served for another URL.</exception>
    public static async Task<string> EnsureRunningAsync(string url, WcfsSettings? settings = null, TimeSpan? timeout = null,
        string? mountpoint = null, CancellationToken cancellationToken = default)
    {
        var s = settings ?? WcfsSettings.Default;
        var normalized = MountPoint.NormalizeUrl(url);
        var mnt = mountpoint ?? MountPoint.For(url, s.MountRoot);
        var (state, served) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
        if (state == ServerState.Running)
            return Check(mnt, served, normalized);
        var tool = WcfsTool.Find();
        var logs = ServerLogFiles.Create(mnt);
        var mark = logs.Mark();
        var request = new Request(url, mnt, s.Server);
        using var server = StartDetached(tool.StartInfo(ServeArguments(request, StdinConfig, logs.Log)), logs.Stderr, SettingsText(request));
        var limit = timeout ?? s.Client.StartTimeout;
        var deadline = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            (state, served) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            if (state == ServerState.Running)
                return Check(mnt, served, normalized);
            if (server.HasExited && !AnotherStarterHoldsTheLock(mnt))
                throw new WcfsClientException(
                    $"`wcfs serve` ({tool}) for {UrlRedaction.Redact(normalized)} exited with {server.ExitCode} before mounting {mnt}: {logs.TailSince(mark)}");
            await Task.Delay(20, cancellationToken).ConfigureAwait(false); // why: the mount appears asynchronously; no event to wait on
        }
        throw new TimeoutException($"the WCFS server for {UrlRedaction.Redact(normalized)} did not start within {limit.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture)}s: see {logs.Log} and {logs.Stderr}");
    }

    /// <summary><c>--config -</c>: the server reads its settings from stdin.</summary>
    private const string StdinConfig = "-";

    /// <summary>Starts <paramref name="psi"/> in its own session with stdout and stderr appended to
    /// <paramref name="stderr"/> and <paramref name="input"/> as its whole stdin.</summary>
    private static Process StartDetached(ProcessStartInfo psi, string stderr, string input)
    {
        var detached = new ProcessStartInfo("setsid") { UseShellExecute = false, RedirectStandardInput = true, StandardInputEncoding = new UTF8Encoding(false) };
        foreach (var a in (string[])[.. DetachedShell(stderr), psi.FileName, .. psi.ArgumentList])
            detached.ArgumentList.Add(a);
        foreach (var (name, value) in psi.Environment) // e.g. RuntimeKnobs' settings
            detached.Environment[name] = value;
        var p = Process.Start(detached) ?? throw new WcfsClientException("cannot run setsid to start the WCFS server");
        try
        {
            p.StandardInput.Write(input);
            p.StandardInput.Close(); // EOF: the server has its settings
        }
        catch (IOException)
        {
            // the server exited before reading (a bad tool, a usage error): the caller sees its exit and log
        }
        return p;
    }

    private static bool AnotherStarterHoldsTheLock(string mnt)
    {
        try
        {
            using var f = new FileStream(MountPoint.LockPath(mnt), FileMode.Open, FileAccess.ReadWrite, FileShare.None);
            return false;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private static string Check(string mnt, string? served, string normalized)
    {
        if (served is not null && MountPoint.NormalizeUrl(served) != normalized)
            throw new InvalidOperationException($"{mnt} serves {UrlRedaction.Redact(served)}, not {UrlRedaction.Redact(normalized)}: remove the stale mount or use another mount-root");
        return mnt;
    }

    /// <summary>
    /// The command that starts a detached <c>wcfs serve</c> for <paramref name="request"/> and returns at
    /// once, and the settings it gets on stdin: a conn whose server died runs it natively, feeding the
    /// settings through a pipe (wcfs_client_reattach.c), so nothing managed runs in the gap and no file
    /// holds the storage URL.
    /// </summary>
    /// <exception cref="WcfsToolNotFoundException">No wcfs tool (see <see cref="WcfsTool.Find"/>).</exception>
    public static DetachedStart DetachedCommand(Request request, WcfsTool? tool = null)
    {
        tool ??= WcfsTool.Find();
        var logs = ServerLogFiles.Create(request.Mountpoint);
        string[] argv = ["setsid", "-f", .. DetachedShell(logs.Stderr), tool.FileName, .. tool.Arguments(ServeArguments(request, StdinConfig, logs.Log))];
        return new DetachedStart(argv, SettingsText(request));
    }

    /// <summary><c>sh -c</c> that appends the command's stdout and stderr to <paramref name="stderr"/> and
    /// execs it in place; its stdin is the launcher's pipe of settings.</summary>
    private static string[] DetachedShell(string stderr) => ["sh", "-c", "out=$1; shift; exec \"$@\" >>\"$out\" 2>&1", "sh", stderr];
}
