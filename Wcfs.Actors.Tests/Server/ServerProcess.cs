// ServerProcess - a real `wcfs serve` child process on a fresh SQLite database and its own mount,
// plus the storage handle the test commits through. Disposal stops the server and always removes
// the mount; a watchdog force-unmounts and kills the server if a test hangs, so blocked syscalls
// of the test fail (ENOTCONN) instead of hanging the run. The watchdog counts from the start of the
// current test: a server shared by a class re-arms it for each test (SharedServer.StartTest).
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Tests.Server;

internal sealed partial class ServerProcess : IAsyncDisposable
{
    /// <summary>One factor for every timeout of these tests (WCFS_TEST_TIMEOUT_FACTOR for slow CI).</summary>
    public static readonly double Factor =
        double.TryParse(Environment.GetEnvironmentVariable("WCFS_TEST_TIMEOUT_FACTOR"), System.Globalization.CultureInfo.InvariantCulture, out var f) ? f : 1.0;

    public static TimeSpan Scaled(double seconds) => TimeSpan.FromSeconds(seconds * Factor);

    private readonly StringBuilder _log = new();
    private readonly Timer _watchdog;
    private Process? _process;
    private Func<WcfsServerSettings, WcfsServerSettings>? _server;

    private ServerProcess(string dir)
    {
        Dir = dir;
        Url = "sqlite://" + Path.Combine(dir, "db.sqlite");
        Mountpoint = Path.Combine(dir, "mnt");
        Storage = StorageFactory.Open(Url);
        _watchdog = new Timer(_ => OnHang(), null, HangTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <summary>How long one test may use the server before the watchdog declares a hang.</summary>
    public static TimeSpan HangTimeout => Scaled(120);

    public string Dir { get; }
    public string Url { get; }
    public string Mountpoint { get; }
    public IStorage Storage { get; }
    public Process Process => _process!;
    public string Log { get { lock (_log) return _log.ToString(); } }

    /// <summary>
    /// Asserts that the server's output contains <paramref name="text"/>, waiting for it (bounded): the
    /// output reaches <see cref="Log"/> through a pipe a thread of the test reads, so a line the
    /// server wrote before an effect the test saw can still be on its way.
    /// </summary>
    public async Task AssertLogContainsAsync(string text)
    {
        var deadline = DateTime.UtcNow + Scaled(15);
        while (!Log.Contains(text, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(10); // why: the captured output has no change notification; poll it
        Xunit.Assert.Contains(text, Log);
    }

    public static string WcfsDll => Support.WcfsCli.Dll;

    /// <summary>
    /// A fresh database; <paramref name="prepare"/> may commit history before the server starts.
    /// The default pin timeout is long: links opened by the test process itself must never be
    /// killed (the kill would hit the test host); faulty-client tests use child processes and 3s.
    /// </summary>
    /// <remarks><c>server</c> changes the server settings (wcfs.server.*) it gets, e.g. a short rev-dir-idle-timeout.</remarks>
    public static async Task<ServerProcess> StartAsync(string pinTimeout = "60s", bool invalidate = true, Action<ServerProcess>? prepare = null, string? extraArgs = null, string? dir = null,
        Func<WcfsServerSettings, WcfsServerSettings>? server = null)
    {
        dir ??= Path.Combine(Path.GetTempPath(), "wcfs-srvtest-" + Guid.NewGuid().ToString("N")[..12]);
        Wcfs.Actors.Protocol.PrivateFiles.EnsurePrivateDirectory(dir); // 0700: a private mount root
        var s = new ServerProcess(dir) { _server = server };
        try
        {
            prepare?.Invoke(s);
            string[] extra = [.. invalidate ? [] : new[] { "--debug-no-invalidate" }, .. SplitArgs(extraArgs)];
            s._process = s.StartServe(pinTimeout, extra);
            await s.WaitRunningAsync();
            return s;
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    /// <summary>The tool as the tests run it: the wcfs.dll built next to them.</summary>
    public static WcfsTool Tool { get; } = new("dotnet", [WcfsDll], "test output");

    /// <summary>`wcfs serve` on this database and mountpoint through the one launcher (WcfsServer): every
    /// server setting and the URL in a 0600 settings file in <see cref="Dir"/>.</summary>
    private Process StartServe(string pinTimeout, IReadOnlyList<string> extraArgs)
    {
        if (!DurationText.TryParse(pinTimeout, out var pt))
            throw new ArgumentException($"not a duration: {pinTimeout}", nameof(pinTimeout));
        // A test's own `--config FILE` gives the server settings; the launcher writes them into its settings file.
        // The protocol tests see exactly the reads they make: no prefetch of committed blocks unless a
        // test asks for it (CommitPrefetcherTests; clients through Database/WcfsClient use the default).
        var server = WcfsSettings.Default.Server with { PrefetchCommitted = false };
        var args = extraArgs.ToList();
        var at = args.IndexOf("--config");
        if (at >= 0)
        {
            server = WcfsSettings.FromHocon(File.ReadAllText(args[at + 1])).Server;
            args.RemoveRange(at, 2);
        }
        server = server with { PinTimeout = pt };
        var request = new WcfsServer.Request(Url, Mountpoint, _server?.Invoke(server) ?? server)
        {
            ExtraArguments = ["--verbose", .. args],
            SettingsDirectory = Dir,
        };
        return StartChild(WcfsServer.StartInfo(request, Tool).StartInfo);
    }

    private static string[] SplitArgs(string? args) => args?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    public Process StartChild(string args) => StartChild(new ProcessStartInfo("dotnet", args));

    private Process StartChild(ProcessStartInfo psi)
    {
        psi.RedirectStandardError = true;
        psi.RedirectStandardOutput = true;
        psi.UseShellExecute = false;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {psi.FileName}");
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    public async Task WaitRunningAsync()
    {
        var deadline = DateTime.UtcNow + Scaled(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited)
                throw new InvalidOperationException($"wcfs serve exited with {_process.ExitCode}:\n{Log}");
            var (state, url) = await MountPoint.ProbeAsync(Mountpoint, Scaled(5));
            if (state == ServerState.Running && url == Storage.Url)
                return;
            await Task.Delay(20); // why: the mount appears asynchronously; no event to wait on
        }
        throw new TimeoutException($"wcfs serve did not answer .wcfs/zurl within 30s:\n{Log}");
    }

    /// <summary>SIGKILL of the server child (no unmount, no goodbye); waits for its exit. The mount
    /// stays behind, dead (ENOTCONN), until <see cref="RestartAsync"/> or disposal removes it.</summary>
    public async Task KillHardAsync()
    {
        Process.Kill(); // SIGKILL; safe against a reused pid (the runtime checks the child under its reaping lock)
        using var cts = new CancellationTokenSource(Scaled(15));
        await Process.WaitForExitAsync(cts.Token);
    }

    /// <summary>A new server on the same database and mountpoint (the dead mount is removed first);
    /// <paramref name="server"/> replaces the settings change of the start (and of later restarts).</summary>
    public async Task RestartAsync(string pinTimeout = "60s", Func<WcfsServerSettings, WcfsServerSettings>? server = null)
    {
        ResetWatchdog(HangTimeout); // a new server: its own time to hang
        if (server is not null)
            _server = server;
        if (MountPoint.IsMounted(Mountpoint))
            MountPoint.Unmount(Mountpoint);
        _process = StartServe(pinTimeout, []);
        await WaitRunningAsync();
    }

    /// <summary>
    /// Waits until the server holds no watch link, watch or pinned block: on a shared server the
    /// previous test's links are dropped asynchronously after their EOF, so absolute counters are
    /// read only after this.
    /// </summary>
    public async Task WaitNoLinksAsync()
    {
        var deadline = DateTime.UtcNow + Scaled(15);
        while (Stat("WatchLink") != 0 || Stat("Watch") != 0 || Stat("PinnedBlk") != 0)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"the previous tests' watch links were not dropped within 15s:\n{Stats()}");
            await Task.Delay(5); // why: .wcfs/stats has no change notification; poll its content
        }
    }

    // ---- the test language: storage side -----------------------------------------------------

    /// <summary>Creates a big file (committed) and returns its oid.</summary>
    public Oid CreateFile(int blockSize = 4096)
    {
        var oid = Storage.NewOid();
        Storage.Commit(Storage.LastTid, [new ObjectWrite(oid, new ZBigFileState(blockSize))], []);
        return oid;
    }

    /// <summary>"commit {2: c1}": writes blocks (null deletes) and returns the new tid.</summary>
    public Tid Commit(Oid file, params (long Blk, string? Data)[] blocks) =>
        Storage.Commit(Storage.LastTid, [], [.. blocks.Select(b => new BlockWrite(file, b.Blk, b.Data is null ? null : Encoding.UTF8.GetBytes(b.Data)))]);

    /// <summary>The setup of the pin tests: a file whose block 0 is "a1" @at1 and "a2" @at2, head/at at
    /// at2, and the file's head entry looked up (so that a watch finds it).</summary>
    public async Task<(Oid F, Tid At1, Tid At2)> FileWithTwoRevisionsAsync()
    {
        var f = CreateFile();
        var at1 = Commit(f, (0, "a1"));
        var at2 = Commit(f, (0, "a2"));
        await WaitHeadAtAsync(at2);
        _ = File.Exists(HeadPath(f));
        return (f, at1, at2);
    }

    // ---- the test language: filesystem side --------------------------------------------------

    public string HeadPath(Oid f) => Path.Combine(Mountpoint, "head", "bigfile", f.ToString());

    public string RevPath(Tid at, Oid f) => Path.Combine(Mountpoint, "@" + at, "bigfile", f.ToString());

    public Tid HeadAt() => Tid.Parse(File.ReadAllText(Path.Combine(Mountpoint, "head", "at")));

    /// <summary>Waits until head/at shows at least <paramref name="at"/>.</summary>
    public async Task WaitHeadAtAsync(Tid at)
    {
        var deadline = DateTime.UtcNow + Scaled(15);
        while (HeadAt() < at)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"head/at did not reach {at} within 15s (is {HeadAt()})");
            await Task.Delay(5); // why: head/at has no change notification; poll its content
        }
    }

    /// <summary>"read blk 2 via head" with read() (never a page fault in the test process): the block's text.</summary>
    public static string ReadBlock(string path, long blk, int blockSize = 4096)
    {
        // RandomAccess: no kernel readahead, so exactly this block is read through the mount.
        using var h = File.OpenHandle(path, options: FileOptions.RandomAccess);
        var buf = new byte[blockSize];
        var n = RandomAccess.Read(h, buf, blk * blockSize);
        return Encoding.UTF8.GetString(buf, 0, n).TrimEnd('\0');
    }

    public static Task<string> ReadBlockAsync(string path, long blk, int blockSize = 4096) =>
        Task.Factory.StartNew(() => ReadBlock(path, blk, blockSize), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>"expect cached [1,1,0]": which pages of the file are in the page cache (mincore, no faults).</summary>
    public static bool[] Cached(string path, int pages)
    {
        using var h = File.OpenHandle(path);
        var len = (nuint)(pages * 4096);
        var p = Libc.Mmap(0, len, Libc.ProtRead, Libc.MapShared, (int)h.DangerousGetHandle(), 0);
        if (p == Libc.MapFailed)
            throw new IOException($"mmap {path}: errno {Libc.Errno()}");
        try
        {
            var vec = new byte[pages];
            if (Libc.Mincore(p, len, vec) != 0)
                throw new IOException($"mincore {path}: errno {Libc.Errno()}");
            return [.. vec.Select(b => (b & 1) != 0)];
        }
        finally
        {
            Libc.Munmap(p, len);
        }
    }

    public static string Bits(bool[] b) => "[" + string.Join(",", b.Select(x => x ? 1 : 0)) + "]";

    public string Stats() => File.ReadAllText(Path.Combine(Mountpoint, ".wcfs", "stats"));

    public long Stat(string name)
    {
        foreach (var line in Stats().Split('\n'))
        {
            var kv = line.Split("\t: ");
            if (kv.Length == 2 && kv[0] == name)
                return long.Parse(kv[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        throw new InvalidOperationException($"no {name} in .wcfs/stats:\n{Stats()}");
    }

    // ---- teardown ------------------------------------------------------------------------------

    /// <summary>The watchdog fires <paramref name="after"/> from now (tests that run long on purpose).</summary>
    public void ResetWatchdog(TimeSpan after) => _watchdog.Change(after, Timeout.InfiniteTimeSpan);

    private void OnHang()
    {
        lock (_log) _log.AppendLine("test watchdog: force-unmounting after a hang");
        MountPoint.Unmount(Mountpoint);
        try { _process?.Kill(); } catch (InvalidOperationException) { }
    }

    /// <summary>Stops a `wcfs serve` child (SIGTERM, then SIGKILL after 10 s scaled) and always
    /// removes its mount.</summary>
    public static async Task StopAndUnmountAsync(Process? process, string mountpoint)
    {
        try
        {
            if (process is { HasExited: false } p)
            {
                Wcfs.Actors.Server.ProcessHandle.SignalChild(p, Libc.SIGTERM); // a pidfd: never a reused pid
                using var cts = new CancellationTokenSource(Scaled(10));
                try { await p.WaitForExitAsync(cts.Token); }
                catch (OperationCanceledException) { p.Kill(); }
            }
        }
        finally
        {
            if (MountPoint.IsMounted(mountpoint))
                MountPoint.Unmount(mountpoint);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _watchdog.DisposeAsync();
        try
        {
            await StopAndUnmountAsync(_process, Mountpoint);
        }
        finally
        {
            Storage.Dispose();
            if (Environment.GetEnvironmentVariable("WCFS_TEST_LOG_DIR") is { Length: > 0 } logDir)
            {
                Directory.CreateDirectory(logDir);
                await File.WriteAllTextAsync(Path.Combine(logDir, Path.GetFileName(Dir) + ".log"), Log);
            }
            try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }



}

/// <summary>One server for all tests of a class (each test uses its own files): saves a start per test.</summary>
public class SharedServer : Xunit.IAsyncLifetime
{
    private ServerProcess _s = null!;

    /// <summary>The server, for a test that starts now: re-arms the hang watchdog for this test
    /// (one per test; a class of many tests would otherwise run into it).</summary>
    internal ServerProcess StartTest()
    {
        _s.ResetWatchdog(ServerProcess.HangTimeout);
        return _s;
    }

    protected virtual string PinTimeout => "60s";

    public async Task InitializeAsync() => _s = await ServerProcess.StartAsync(PinTimeout);

    public async Task DisposeAsync() => await _s.DisposeAsync();
}

/// <summary>A shared server with a 10 s pin timeout: only for tests whose links live in child processes.
/// (3 s was too short for a good client's ack relayed through its child process at load ~100.)</summary>
public sealed class SharedServerShortPinTimeout : SharedServer
{
    protected override string PinTimeout => "10s";
}
