// ServerHost - the life of one `wcfs serve` process (PROTOCOL.md §5).
//
//   start: lock file (one server per URL; a racing starter fails with exit 1) → stale mount cleanup
//          → open storage → mount → FUSE loop thread → readahead → commit processor → pid file
//   run:   until SIGTERM/SIGINT, an external unmount, or a storage failure
//   stop:  unmount (the loop returns), stop the commit processor, close storage, remove files
//
// A storage failure (change stream broken) is logged with its cause, the mount is removed (clients
// get ENOTCONN/ENOENT, never wrong data) and the process exits 1.
using System.Runtime.InteropServices;
using Serilog;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Server;

/// <summary>What `wcfs serve` was asked to do.</summary>
internal sealed record ServeOptions(string Url, string Mountpoint, WcfsServerSettings Settings, bool InvalidateCache = true);

internal static class ServerHost
{
    public static async Task<int> RunAsync(ServeOptions o, CancellationToken stopToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(o.Mountpoint.TrimEnd('/'))!);
        FileStream lockFile;
        try
        {
            lockFile = new FileStream(MountPoint.LockPath(o.Mountpoint), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException)
        {
            Log.Error("another wcfs server for {Url} is starting or running (lock {Lock} is held)", o.Url, MountPoint.LockPath(o.Mountpoint));
            return 1;
        }
        using (lockFile)
        {
            var (state, _) = await MountPoint.ProbeAsync(o.Mountpoint, TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            if (state is ServerState.Stale or ServerState.Hung || (state == ServerState.None && MountPoint.IsMounted(o.Mountpoint)))
            {
                Log.Warning("cleaning up the stale mount at {Mountpoint} (state {State})", o.Mountpoint, state);
                MountPoint.Unmount(o.Mountpoint);
            }
            else if (state == ServerState.Running)
            {
                Log.Error("{Mountpoint} is already served by another process", o.Mountpoint);
                return 1;
            }
            Directory.CreateDirectory(o.Mountpoint);

            IStorage storage;
            try
            {
                storage = StorageFactory.Open(o.Url);
            }
            catch (StorageException e)
            {
                Log.Error("cannot open storage: {Error}", e.Message);
                return 1;
            }
            using (storage)
                return await ServeAsync(o, storage, stopToken).ConfigureAwait(false);
        }
    }

    private static async Task<int> ServeAsync(ServeOptions o, IStorage storage, CancellationToken stopToken)
    {
        var start = storage.LastTid;
        var fs = new WcfsFileSystem(storage, storage.Url, start, o.Settings.PinTimeout, o.Settings.HistoryWindow, o.Settings.RevDirIdleTimeout);
        var ops = FuseBridge.Bind(fs);
        // The pid file exists before .wcfs/zurl answers: whoever finds the server finds its pid.
        await File.WriteAllTextAsync(MountPoint.PidPath(o.Mountpoint), Environment.ProcessId + "\n").ConfigureAwait(false);
        var options = "fsname=wcfs,subtype=wcfs" + (Environment.UserName == "root" ? ",allow_other" : "");
        var rc = Mount(o.Mountpoint, options, ops, out var session);
        if (rc != 0)
        {
            Log.Error("cannot mount {Mountpoint}: errno {Errno} (is /dev/fuse usable? is fuse3 installed?)", o.Mountpoint, -rc);
            TryDelete(MountPoint.PidPath(o.Mountpoint));
            return 1;
        }
        var exitCode = 0;
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var loop = new Thread(() =>
        {
            var r = FuseNative.Loop(session, 16);
            if (r != 0)
                Log.Error("FUSE loop ended with errno {Errno}", -r);
            stop.TrySetResult();
        }) { Name = "wcfs-fuse-loop", IsBackground = true };
        loop.Start();

        using var commits = new CommitProcessor(fs, session) { InvalidateEnabled = o.InvalidateCache };
        // System.CommandLine turns SIGTERM/SIGINT into this token (and ends the process 2 s later).
        using var onStop = stopToken.Register(() => stop.TrySetResult());
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
        void Fail(Exception e)
        {
            Log.Error(e, "storage failed, unmounting: {Error}", e.Message);
            exitCode = 1;
            stop.TrySetResult();
        }
        commits.Start(start, Fail);
        using var storageCheck = StorageFileCheck(o.Url, Fail);
        var dev = MountPoint.MountDevice(o.Mountpoint);
        SetReadahead(dev, o.Settings.Readahead);
        using var idle = new Timer(_ =>
        {
            foreach (var name in fs.ForgetIdleRevDirs(DateTime.UtcNow))
                commits.Post(() => FuseNative.NotifyInvalEntry(session, 1, name));
        }, null, o.Settings.RevDirIdleTimeout / 2, o.Settings.RevDirIdleTimeout / 2);
        Log.Information("serving {Url} at {Mountpoint} from @{Head} (pid {Pid})", storage.Url, o.Mountpoint, start, Environment.ProcessId);

        await stop.Task.ConfigureAwait(false);

        Log.Information("unmounting {Mountpoint}", o.Mountpoint);
        FuseNative.Exit(session);
        // Files still open on the detached mount keep the connection (and the loop) alive: abort it
        // through fusectl if mounted; else leave the session to the process exit, which closes
        // /dev/fuse so those clients get ENOTCONN (destroying it under running loop threads is unsafe).
        var loopDone = loop.Join(TimeSpan.FromSeconds(1))
                       || (dev is not null && AbortConnection(dev) && loop.Join(TimeSpan.FromSeconds(5)));
        commits.Dispose();
        var (n, p50, p99) = fs.Stats.RoundTrips();
        if (n > 0)
            Log.Information("pin round trip on the server: n={N} p50={P50:0.0}µs p99={P99:0.0}µs", n, p50, p99);
        if (loopDone)
            session.Dispose();
        else
        {
            Log.Information("files are still open on the detached mount: the FUSE connection closes with this process");
            session.SetHandleAsInvalid();
        }
        TryDelete(MountPoint.PidPath(o.Mountpoint));
        try { Directory.Delete(o.Mountpoint); } catch (IOException) { }
        return exitCode;
    }

    private static unsafe int Mount(string mountpoint, string options, WfuseOps ops, out FuseSessionHandle session) =>
        FuseNative.Mount(mountpoint, options, &ops, out session);

    /// <summary>
    /// For a SQLite storage: checks every second that the database file is still the one opened
    /// (an open connection keeps reading a deleted or replaced file, which would serve stale data).
    /// </summary>
    private static Timer? StorageFileCheck(string url, Action<Exception> fail)
    {
        var target = StorageFactory.Parse(url);
        if (target.Kind != StorageKind.Sqlite)
            return null;
        var path = target.Location;
        static ulong? Inode(string p) => Mono.Unix.Native.Syscall.stat(p, out var st) == 0 ? st.st_ino : null;
        var ino = Inode(path);
        var failed = 0;
        return new Timer(_ =>
        {
            var now = Inode(path);
            string? why = now is null ? "was deleted"
                : now != ino ? "was replaced by another file"
                : null;
            if (why is not null && Interlocked.Exchange(ref failed, 1) == 0)
                fail(new StorageException($"storage file {path} {why}"));
        }, null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
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
