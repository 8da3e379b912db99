// WcfsMount - one running WCFS server as an object: start, stop, stats, dispose (PROTOCOL.md §5).
// `wcfs serve` hosts exactly one of these in its own process (ARCHITECTURE.md fact 6: a process
// that serves FUSE must never touch the mappings it serves).
//
//   start: lock file (one server per URL; a racing starter fails) → stale mount cleanup
//          → open storage → head loads the history window's past commits (LoadPastAsync)
//          → actor system (HeadActor) → mount → FUSE loop thread → readahead
//          → change stream into HeadActor → pid file
//   run:   until StopAsync, an external unmount, or a storage failure (Completion ends)
//   stop:  unmount (the loop returns), stop the change stream and the actor system, close
//          storage, remove files
//
// A storage failure (change stream broken) is logged with its cause and ends Completion with
// Failed = true; the host then stops the mount (clients get ENOTCONN/ENOENT, never wrong data).
//
// One mount per process: the FUSE entry points (FuseBridge) are static and bound to one filesystem.
//
// The control plane is an actor system owned by the mount (server-side only: the server is its own
// process): HeadActor on a thread of its own (commits, invalidation, watch setup), one
// WatchLinkActor per watch link. It is quiet: Akka logs warnings and errors through Serilog.
//
// Threading: StartAsync/StopAsync/DisposeAsync are called by the host, one at a time. FUSE worker
// threads run the filesystem (WcfsFileSystem) and tell the actors; a task feeds the storage's
// change records to HeadActor.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using Serilog;
using Wcfs.Actors.Diagnostics;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

/// <summary>What a WCFS mount serves, where, and how.</summary>
/// <param name="Url">The storage URL.</param>
/// <param name="Mountpoint">Absolute path of the mountpoint.</param>
/// <param name="Settings">Server settings (<c>wcfs.server</c>).</param>
/// <param name="InvalidateCache">False only for tests that prove invalidation matters (serves wrong data).</param>
/// <param name="FailInvalidationForTest">True only for the test of EIO mode: every invalidation reports a failure.</param>
public sealed record WcfsMountOptions(string Url, string Mountpoint, WcfsServerSettings Settings, bool InvalidateCache = true, bool FailInvalidationForTest = false);

/// <summary>Figures of a running mount.</summary>
/// <param name="Pins">Pins sent to watch links.</param>
/// <param name="PinKills">Clients killed for not answering a pin.</param>
/// <param name="PinRoundTrips">Pin round trips measured on the server.</param>
/// <param name="PinRoundTripP50Us">Median pin round trip, microseconds.</param>
/// <param name="PinRoundTripP99Us">99th percentile pin round trip, microseconds.</param>
public sealed record WcfsMountStats(long Pins, long PinKills, int PinRoundTrips, double PinRoundTripP50Us, double PinRoundTripP99Us);

/// <summary>A WCFS server could not start: the message says why in one line.</summary>
public sealed class WcfsMountException(string message) : Exception(message);

/// <summary>A running WCFS server: a FUSE mount of one storage, with its commit processing.</summary>
public sealed class WcfsMount : IAsyncDisposable
{
    private readonly WcfsMountOptions _options;
    private readonly FileStream _lockFile;
    private readonly IStorage _storage;
    private readonly WcfsFileSystem _fs;
    private readonly FuseSessionHandle _session;
    private readonly Thread _loop;
    private CommitPrefetcher? _prefetch;
    private readonly ActorSystem _system;
    private readonly IActorRef _head;
    private readonly CancellationTokenSource _changes = new();
    private readonly TaskCompletionSource<bool> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly string? _device;
    private IDisposable? _storageCheck;
    private Timer? _idle;
    private IDisposable? _linkMetrics;
    private int _stopped;

    private WcfsMount(WcfsMountOptions options, FileStream lockFile, IStorage storage, WcfsFileSystem fs,
        FuseSessionHandle session, Thread loop, ActorSystem system, IActorRef head, string? device)
    {
        _options = options;
        _lockFile = lockFile;
        _storage = storage;
        _fs = fs;
        _session = session;
        _loop = loop;
        _system = system;
        _head = head;
        _device = device;
    }

    /// <summary>The mountpoint served.</summary>
    public string Mountpoint => _options.Mountpoint;

    /// <summary>The storage URL served (as the storage names it, without a password).</summary>
    public string Url => _storage.Url;

    /// <summary>
    /// Ends when the mount ends by itself: true if a storage failure ended it, false if it was
    /// unmounted from outside or stopped.
    /// </summary>
    public Task<bool> Completion => _ended.Task;

    /// <summary>Current figures (pins, kills, pin round trips).</summary>
    public WcfsMountStats Stats
    {
        get
        {
            var (n, p50, p99) = _fs.Stats.RoundTrips();
            return new WcfsMountStats(_fs.Stats.Pins, _fs.Stats.PinKills, n, p50, p99);
        }
    }

    /// <summary>Mounts <paramref name="o"/>.Url at <paramref name="o"/>.Mountpoint and starts serving.</summary>
    /// <exception cref="WcfsMountException">Another server holds the mount, the storage cannot be opened, or the mount failed.</exception>
    public static async Task<WcfsMount> StartAsync(WcfsMountOptions o, CancellationToken cancellationToken = default)
    {
        FileStream lockFile;
        try
        {
            // The mount root holds the lock, pid and log files: private to the user (PrivateFiles.cs).
            PrivateFiles.EnsurePrivateDirectory(Path.GetDirectoryName(o.Mountpoint.TrimEnd('/'))!);
            lockFile = PrivateFiles.OpenPrivate(MountPoint.LockPath(o.Mountpoint));
        }
        catch (IOException e)
        {
            throw new WcfsMountException(e.Message);
        }
        if (!PrivateFiles.TryLock(lockFile))
        {
            await lockFile.DisposeAsync().ConfigureAwait(false);
            throw new WcfsMountException($"another wcfs server for {UrlRedaction.Redact(o.Url)} is starting or running (lock {MountPoint.LockPath(o.Mountpoint)} is held)");
        }
        IStorage? storage = null;
        try
        {
            var (state, _) = await MountPoint.ProbeAsync(o.Mountpoint, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (state is ServerState.Stale or ServerState.Hung || (state == ServerState.None && MountPoint.IsMounted(o.Mountpoint)))
            {
                Log.Warning("cleaning up the stale mount at {Mountpoint} (state {State})", o.Mountpoint, state);
                MountPoint.Unmount(o.Mountpoint);
            }
            else if (state == ServerState.Running)
                throw new WcfsMountException($"{o.Mountpoint} is already served by another process");
            Directory.CreateDirectory(o.Mountpoint);
            try
            {
                storage = StorageFactory.Open(o.Url);
            }
            catch (StorageException e)
            {
                throw new WcfsMountException($"cannot open storage: {e.Message}");
            }
            var mount = await MountAsync(o, lockFile, storage).ConfigureAwait(false);
            storage = null;
            return mount;
        }
        catch
        {
            storage?.Dispose();
            await lockFile.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<WcfsMount> MountAsync(WcfsMountOptions o, FileStream lockFile, IStorage storage)
    {
        var start = storage.LastTid;
        var fs = new WcfsFileSystem(storage, storage.Url, start, o.Settings.PinTimeout, o.Settings.HistoryWindow, o.Settings.RevDirIdleTimeout, o.Settings.BlockCache)
        {
            Access = MountAccess.For(o.Url, o.Settings.AllowOther),
        };
        var (tail, past) = await LoadPastAsync(storage, start, o.Settings.HistoryWindow).ConfigureAwait(false);
        lock (fs.Head.Lock)
            fs.Head.LoadPast(tail, past);
        var system = ActorSystem.Create("wcfs-server", ServerConfig);
        var invalidation = o.FailInvalidationForTest ? HeadProtocol.Invalidation.FailForTest
            : o.InvalidateCache ? HeadProtocol.Invalidation.On : HeadProtocol.Invalidation.Off;
        var ops = FuseBridge.Bind(fs);
        // The pid file exists before .wcfs/zurl answers: whoever finds the server finds its pid.
        try
        {
            var pid = PrivateFiles.OpenPrivate(MountPoint.PidPath(o.Mountpoint), truncate: true);
            await using var pidScope = pid.ConfigureAwait(false);
            await pid.WriteAsync(System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId + "\n")).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new WcfsMountException(e.Message);
        }
        var options = "fsname=wcfs,subtype=wcfs" + fs.Access.MountOptions;
        var rc = Mount(o.Mountpoint, options, ops, out var session);
        if (rc != 0)
        {
            TryDelete(MountPoint.PidPath(o.Mountpoint));
            await system.Terminate().ConfigureAwait(false);
            throw new WcfsMountException($"cannot mount {o.Mountpoint}: errno {-rc} (is /dev/fuse usable? is fuse3 installed?)");
        }
        WcfsMount? mount = null;
        var loop = new Thread(() =>
        {
            var r = FuseNative.Loop(session, 16, 64); // bounds: wfuse_loop
            if (r != 0)
                Log.Error("FUSE loop ended with errno {Errno}", -r);
            mount!._ended.TrySetResult(false);
        }) { Name = "wcfs-fuse-loop", IsBackground = true };
        // Prefetching needs the invalidation (without it the kernel keeps the old pages anyway).
        var prefetch = o.Settings.PrefetchCommitted && invalidation == HeadProtocol.Invalidation.On ? new CommitPrefetcher(o.Mountpoint, o.Settings.Readahead, fs) : null;
        var head = system.ActorOf(HeadProtocol.Props(fs, session, new HeadProtocol.Settings(invalidation, prefetch), "wcfs.server.head-dispatcher"), "head");
        fs.Attach(system, head, new WatchLinkProtocol.Settings(o.Settings.PinTimeout), "wcfs.server.link-dispatcher");
        mount = new WcfsMount(o, lockFile, storage, fs, session, loop, system, head, MountPoint.MountDevice(o.Mountpoint)) { _prefetch = prefetch };
        loop.Start();
        mount.Serve(start);
        return mount;
    }

    /// <summary>
    /// The commits of the history window that happened before this server started (a restart, or a
    /// server started after commits): tail = the tid of "now − window", records = the storage's
    /// change records after it up to <paramref name="start"/>. So a client that re-attaches after
    /// a restart can watch at its old at, and pins are exact (wendelin.core's server starts with an
    /// empty history instead). Nothing when the window holds no commit.
    /// </summary>
    private static async Task<(Tid Tail, IReadOnlyList<ChangeRecord> Records)> LoadPastAsync(IStorage storage, Tid start, TimeSpan window)
    {
        var tail = Head.TidOf(DateTime.UtcNow - window);
        var records = new List<ChangeRecord>();
        if (tail >= start)
            return (start, records);
        // Every record up to start exists (start is the last commit), so the stream never waits for
        // a new commit here; the bound only guards a storage that misbehaves.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await foreach (var rec in storage.Changes(tail, cts.Token).ConfigureAwait(false))
            {
                if (rec.Tid > start)
                    break;
                records.Add(rec);
                if (rec.Tid == start)
                    break;
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            Log.Warning("the storage gave no change records up to @{Start} within 30 s: the history starts there", start);
            return (start, []);
        }
        return (tail, records);
    }

    private void Serve(Tid start)
    {
        void Fail(Exception e)
        {
            Log.Error(e, "storage failed, unmounting: {Error}", e.Message);
            _ended.TrySetResult(true);
        }
        _linkMetrics = WcfsMetrics.ObserveServer(() => (int)_fs.Stats.Links);
        _ = Task.Run(async () =>
        {
            try
            {
                await foreach (var rec in _storage.Changes(start, _changes.Token).ConfigureAwait(false))
                    _head.Tell(new HeadProtocol.Commit(rec, Stopwatch.GetTimestamp()));
            }
            catch (OperationCanceledException) when (_changes.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Fail(e);
            }
        });
        _storageCheck = StorageFileCheck(_options.Url, Fail);
        SetReadahead(_device, _options.Settings.Readahead);
        var idleEvery = _options.Settings.RevDirIdleTimeout / 2;
        _idle = new Timer(_ =>
        {
            foreach (var name in _fs.ForgetIdleRevDirs(DateTime.UtcNow))
                _head.Tell(new HeadProtocol.InvalidateEntry(name));
        }, null, idleEvery, idleEvery);
        Log.Information("serving {Url} at {Mountpoint} from @{Head} (pid {Pid})", _storage.Url, _options.Mountpoint, start, Environment.ProcessId);
    }

    /// <summary>Unmounts and releases everything; idempotent. Files still open on the mount get ENOTCONN.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the stop
    /// started (nothing changed). Once started, a stop runs to its end (bounded waits): it is never left half done.</exception>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        Log.Information("unmounting {Mountpoint}", _options.Mountpoint);
        _prefetch?.Dispose(); // its reads of our own mount end before the unmount
        FuseNative.Exit(_session);
        // Files still open on the detached mount keep the connection (and the loop) alive: abort it
        // through fusectl if mounted; else leave the session to the process exit, which closes
        // /dev/fuse so those clients get ENOTCONN (destroying it under running loop threads is unsafe).
        var loopDone = await Task.Run(() => _loop.Join(TimeSpan.FromSeconds(1))
                       || (_device is not null && AbortConnection(_device) && _loop.Join(TimeSpan.FromSeconds(5)))).ConfigureAwait(false);
        if (_idle is not null)
            await _idle.DisposeAsync().ConfigureAwait(false);
        _storageCheck?.Dispose();
        _linkMetrics?.Dispose();
        await _changes.CancelAsync().ConfigureAwait(false);
        // The head actor may be inside a notification that waits for the kernel: bounded.
        await _system.Terminate().WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        _fs.ReleaseBlockCache();
        var s = Stats;
        if (s.PinRoundTrips > 0)
            Log.Information("pin round trip on the server: n={N} p50={P50:0.0}µs p99={P99:0.0}µs", s.PinRoundTrips, s.PinRoundTripP50Us, s.PinRoundTripP99Us);
        if (loopDone)
            _session.Dispose();
        else
        {
            Log.Information("files are still open on the detached mount: the FUSE connection closes with this process");
            _session.SetHandleAsInvalid();
        }
        TryDelete(MountPoint.PidPath(_options.Mountpoint));
        try { Directory.Delete(_options.Mountpoint); } catch (IOException) { }
        _storage.Dispose();
        await _lockFile.DisposeAsync().ConfigureAwait(false);
        _ended.TrySetResult(false);
    }

    /// <inheritdoc cref="StopAsync"/>
    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>
    /// The server's actor system: quiet (warnings and errors through Serilog), the dispatchers of
    /// wcfs.server (reference.conf) from the library defaults.
    /// </summary>
    private static Config ServerConfig => Hosting.TimerQueueScheduler.For(ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          stdout-loglevel = OFF
          loggers = ["Akka.Logger.Serilog.SerilogLogger, Akka.Logger.Serilog"]
          log-dead-letters = off
        }
        """).WithFallback(WcfsSettings.Reference)); // the scheduler: at rest, free (no 10 ms tick once a pin was timed)

    private static unsafe int Mount(string mountpoint, string options, WfuseOps ops, out FuseSessionHandle session) =>
        FuseNative.Mount(mountpoint, options, &ops, out session);

    /// <summary>
    /// For a SQLite storage: checks that the database file is still the one opened whenever an entry
    /// of its directory is deleted, renamed or changes attributes (inotify; an open connection keeps
    /// reading a deleted or replaced file, which would serve stale data). No timer: an idle server
    /// sleeps (docs/NOTES.md "Data path").
    /// </summary>
    private static IDisposable? StorageFileCheck(string url, Action<Exception> fail)
    {
        var target = StorageFactory.Parse(url);
        if (target.Kind != StorageKind.Sqlite)
            return null;
        var path = target.Location;
        var name = Path.GetFileName(path);
        static ulong? Inode(string p) => Mono.Unix.Native.Syscall.stat(p, out var st) == 0 ? st.st_ino : null;
        var ino = Inode(path);
        var failed = 0;
        void Check()
        {
            var now = Inode(path);
            string? why = now is null ? "was deleted"
                : now != ino ? "was replaced by another file"
                : null;
            if (why is not null && Interlocked.Exchange(ref failed, 1) == 0)
                fail(new StorageException($"storage file {path} {why}"));
        }
        var events = DirectoryEvents.TryWatch(Path.GetDirectoryName(path)!,
            DirectoryEvents.Delete | DirectoryEvents.MovedFrom | DirectoryEvents.MovedTo | DirectoryEvents.Attrib,
            (entry, _) =>
            {
                if (entry is null || entry == name)
                    Check();
            });
        if (events is null)
            Log.Warning("cannot watch the directory of {Path} (inotify): a deleted or replaced database file will not be noticed", path);
        return events;
    }

    /// <summary>Raises the kernel readahead of the mount (bdi read_ahead_kb), ARCHITECTURE.md fact 3.</summary>
    private static void SetReadahead(string? dev, long bytes)
    {
        var path = $"/sys/class/bdi/{dev}/read_ahead_kb";
        try
        {
            if (dev is not null)
                File.WriteAllText(path, (bytes / 1024).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning("cannot set readahead ({Path}): {Error}", path, e.Message);
        }
    }

    /// <summary>Aborts the FUSE connection of device "0:minor" (/sys/fs/fuse/connections/minor/abort).</summary>
    private static bool AbortConnection(string dev)
    {
        var path = $"/sys/fs/fuse/connections/{dev.Split(':')[^1]}/abort";
        try
        {
            File.WriteAllText(path, "1");
            Log.Information("aborted the FUSE connection ({Path}): files still open get ENOTCONN", path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { }
    }
}
