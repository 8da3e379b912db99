// WcfsClient - the standalone WCFS client (API.md §1, ARCHITECTURE.md §3 and §7, PROTOCOL.md §4-5).
//
// What it owns: finding (or autostarting) the server of a storage URL, the liveness handle on
// <mnt>/.wcfs/zurl, and the actors of the control plane. It does NOT own the pin path: that is the
// native pinner and mmap actor (Wcfs.Native/native/src/core/wcfs_client.c, pinner.c), which never
// wait on managed code (ARCHITECTURE.md fact 1: a GC can never deadlock against the server).
//
// Organization (managed tier; each protocol in its own file):
//
//   WcfsClient ── WcfsActor (one per mount)
//                   └─ ConnActor (one view @at: Conn)          ConnProtocol.cs
//                        ├─ PinnerActor (supervises the native pinner: replies, pin copies, link down)
//                        └─ FileHActor (one open file: FileH)   FileHProtocol.cs
//                             └─ MappingActor (one Mapping)     MappingProtocol.cs
//
// One watch, as a transcript of the link (C: this client, S: the server):
//
//   C: 1 watch 00000000000000a1 @00000000000000c0      ConnActor, after the native file registered
//   S: 2 pin 00000000000000a1 #3 @00000000000000b0     native pinner: PinRequest -> mmap actor
//   C: 2 ack                                           native pinner (copy -> PinnerActor)
//   S: 1 ok                                            PinnerActor -> ConnActor -> FileH opened
//   C: 3 watch 00000000000000a1 -                      last FileH reference dropped
//   S: 3 ok                                            native file closed: its mappings fault
//   C: 5 bye                                           Conn closed; the pinner reads EOF and stops
//
// Invariants:
//   (1) the public API waits for actors only with Ask at this edge, always with wcfs.client.ask-timeout;
//       actors never Ask and never wait for the server (ConnActor invariant C2).
//   (2) while a WcfsClient lives it holds .wcfs/zurl open (the server sees a live client).
//   (3) blocking native calls of the actors run on wcfs.client.dispatcher (reference.conf).
//
// Failure: server not running and autostart off -> JoinAsync fails naming the mountpoint and the
// command to start it. Server gone -> the link goes down, the Conn reports it and refuses further
// use; mappings of blocks never touched get SIGBUS from the kernel on access (the mount is gone).
using System.Diagnostics;
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>Options of <see cref="WcfsClient.JoinAsync"/>.</summary>
public sealed record WcfsClientOptions
{
    /// <summary>The actor system to host the client in (its config must include the wcfs reference.conf, as
    /// AddWcfs does); null: the client creates and owns one.</summary>
    public ActorSystem? System { get; init; }

    /// <summary>Mount here instead of <c>&lt;mount-root&gt;/&lt;hash of url&gt;</c>.</summary>
    public string? Mountpoint { get; init; }

    /// <summary>Overrides <c>wcfs.autostart</c>.</summary>
    public bool? Autostart { get; init; }

    /// <summary>Extra arguments for an autostarted <c>wcfs serve</c> (e.g. <c>--pin-timeout 5s</c>).</summary>
    public string? ServeArguments { get; init; }
}

/// <summary>A process's link to the WCFS server of one storage URL.</summary>
public sealed class WcfsClient : IAsyncDisposable
{
    private readonly Microsoft.Win32.SafeHandles.SafeFileHandle _zurl;
    private readonly bool _ownsSystem;

    private WcfsClient(string url, string mountpoint, ActorSystem system, bool ownsSystem, WcfsProtocol.ClientSettings settings, Microsoft.Win32.SafeHandles.SafeFileHandle zurl)
    {
        Url = url;
        Mountpoint = mountpoint;
        System = system;
        _ownsSystem = ownsSystem;
        Settings = settings;
        _zurl = zurl;
        Actor = system.ActorOf(WcfsProtocol.Props(mountpoint, settings), "wcfs-client-" + Guid.NewGuid().ToString("N")[..8]);
    }

    /// <summary>The storage URL the server serves.</summary>
    public string Url { get; }

    /// <summary>Where the server is mounted.</summary>
    public string Mountpoint { get; }

    /// <summary>The actor system hosting the client.</summary>
    public ActorSystem System { get; }

    /// <summary>The WcfsActor of this client.</summary>
    public IActorRef Actor { get; }

    /// <summary>The validated <c>wcfs.client</c> settings.</summary>
    public WcfsProtocol.ClientSettings Settings { get; }

    /// <summary>
    /// Finds the server of <paramref name="url"/> by <c>&lt;mnt&gt;/.wcfs/zurl</c>, starting <c>wcfs serve</c> if there is
    /// none and <c>wcfs.autostart</c> is on, and keeps <c>.wcfs/zurl</c> open while the client lives.
    /// </summary>
    /// <exception cref="WcfsClientException">No server and autostart off, or the server did not come up.</exception>
    public static async Task<WcfsClient> JoinAsync(string url, WcfsClientOptions? options = null)
    {
        options ??= new WcfsClientOptions();
        var ownsSystem = options.System is null;
        var system = options.System ?? ActorSystem.Create("wcfs-client", WcfsSettings.Reference);
        try
        {
            var config = system.Settings.Config;
            if (!config.HasPath(WcfsProtocol.DispatcherId + ".type"))
                throw new ConfigurationException($"{WcfsProtocol.DispatcherId}: missing in the actor system's config; add WcfsSettings.Reference as fallback (AddWcfs does)");
            var wcfs = WcfsSettings.FromConfig(config);
            var client = WcfsProtocol.ClientSettings.FromConfig(config);
            var mnt = options.Mountpoint ?? MountPoint.For(url, wcfs.MountRoot);
            if (options.Mountpoint is null && options.ServeArguments is null && (options.Autostart ?? wcfs.Autostart))
                await WcfsServer.EnsureRunningAsync(url, wcfs, client.StartTimeout); // the standard mount: the server's own starter
            else
                await EnsureRunningAsync(url, mnt, options.Autostart ?? wcfs.Autostart, options.ServeArguments, client.StartTimeout);
            var zurl = File.OpenHandle(Path.Combine(mnt, ".wcfs", "zurl")); // invariant (2)
            return new WcfsClient(url, mnt, system, ownsSystem, client, zurl);
        }
        catch
        {
            if (ownsSystem)
                await system.Terminate();
            throw;
        }
    }

    private static async Task EnsureRunningAsync(string url, string mnt, bool autostart, string? serveArgs, TimeSpan timeout)
    {
        var (state, _) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5));
        if (state == ServerState.Running)
            return;
        var command = $"wcfs serve {UrlRedaction.Redact(url)}" + (mnt == MountPoint.For(url, WcfsSettings.Default.MountRoot) ? "" : $" --mountpoint {mnt}");
        if (!autostart)
            throw new WcfsClientException($"no WCFS server for {UrlRedaction.Redact(url)} is running at {mnt} ({state}): start it with `{command}`, or set wcfs.autostart = on");
        StartServer(url, mnt, serveArgs);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            (state, _) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5));
            if (state == ServerState.Running)
                return;
            await Task.Delay(20); // the mount appears asynchronously; there is no event to wait for
        }
        throw new WcfsClientException($"autostarted `{command}` did not answer .wcfs/zurl within {timeout.TotalSeconds:0}s; see {mnt}.log");
    }

    /// <summary>Starts <c>wcfs serve</c> for an explicit mountpoint in the background (its own session; output to
    /// &lt;mnt&gt;.log). A racing starter loses on the server's lock file and exits; either way one server ends up
    /// running. (The standard mountpoint goes through <see cref="WcfsServer.EnsureRunningAsync"/>.)</summary>
    private static void StartServer(string url, string mnt, string? serveArgs)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "wcfs.dll");
        var exe = File.Exists(dll) ? $"dotnet {Quote(dll)}" : "wcfs";
        PrivateFiles.EnsurePrivateDirectory(Path.GetDirectoryName(mnt.TrimEnd('/'))!);
        var log = mnt.TrimEnd('/') + ".log";
        PrivateFiles.OpenPrivate(log).Dispose(); // 0600, never through a symlink (PrivateFiles.cs)
        var cmd = $"exec {exe} serve {Quote(url)} --mountpoint {Quote(mnt)} {serveArgs ?? ""} >{Quote(log)} 2>&1 </dev/null";
        var psi = new ProcessStartInfo("setsid", ["-f", "sh", "-c", cmd]) { UseShellExecute = false };
        using var p = Process.Start(psi) ?? throw new WcfsClientException("cannot start wcfs serve (setsid sh)");
        p.WaitForExit();
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>Waits until the server's <c>head/at</c> is at least <paramref name="at"/> (bounded by start-timeout).</summary>
    internal async Task WaitHeadAtAsync(Tid at)
    {
        var path = Path.Combine(Mountpoint, "head", "at");
        var deadline = DateTime.UtcNow + Settings.StartTimeout;
        while (true)
        {
            var head = await ReadHeadAtAsync(path);
            if (head >= at)
                return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"head/at of {Mountpoint} did not reach @{at} within {Settings.StartTimeout.TotalSeconds:0}s (is @{head})");
            await Task.Delay(2); // head/at has no change notification; poll its content
        }
    }

    /// <summary>The server's current <c>head/at</c>.</summary>
    /// <exception cref="WcfsServerGoneException">The mount does not answer (the server is gone).</exception>
    public Tid HeadAt()
    {
        var path = Path.Combine(Mountpoint, "head", "at");
        try
        {
            return Tid.Parse(File.ReadAllText(path));
        }
        catch (IOException e)
        {
            throw new WcfsServerGoneException($"read {path}: {e.Message}; the WCFS server is gone, restart it with `wcfs serve <url>`");
        }
    }

    private static async Task<Tid> ReadHeadAtAsync(string path)
    {
        try
        {
            return Tid.Parse(await File.ReadAllTextAsync(path));
        }
        catch (IOException e)
        {
            throw new WcfsServerGoneException($"read {path}: {e.Message}; the WCFS server is gone, restart it with `wcfs serve <url>`");
        }
    }

    /// <summary>Opens a connection at <paramref name="at"/> (default: the current head/at), waiting until the server reached it.</summary>
    public async Task<Conn> ConnectAsync(Tid? at = null)
    {
        var target = at ?? HeadAt();
        await WaitHeadAtAsync(target);
        var lifetime = new ConnLifetime();
        var started = await ClientAsk.Ask<ConnProtocol.Started>(Actor, new WcfsProtocol.Connect(target, lifetime), Settings.AskTimeout, $"connect @{target}");
        return new Conn(this, started.Conn, target, Settings.AskTimeout, lifetime);
    }

    /// <summary>Stops the client's actors (their conns close), releases .wcfs/zurl, and stops the actor system if the client created it.</summary>
    public async ValueTask DisposeAsync()
    {
        await Actor.GracefulStop(Settings.AskTimeout);
        _zurl.Dispose();
        if (_ownsSystem)
            await System.Terminate();
    }
}
