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
//   (2) while a WcfsClient lives it holds .wcfs/zurl open (the server sees a live client); after a
//       re-attach (or a call that waited out a gap) it holds it on the new server.
//   (3) blocking native calls of the actors run on wcfs.client.dispatcher (reference.conf).
//
// Failure: server not running and autostart off -> JoinAsync fails naming the mountpoint and the
// command to start it. Server gone -> every conn waits up to wcfs.client.reattach-timeout for a new
// server on the mountpoint (native: wcfs_client_reattach.c; faults on the dead mount wait, a resync
// waits for head/at); with one, mappings are re-mapped in place and re-watched at the conn's at;
// without one, the link goes down, the Conn refuses further use, and an access that needs the server
// ends the process with one line naming mount, file and block ("the WCFS server is gone").
// ConnectAsync and a resync's wait for head/at wait through the same gap (with autostart on, a
// client with no conn starts the new server itself); after it they throw WcfsServerGoneException
// "<what>: the WCFS server at <mnt> is gone (<cause>) and no server came back within N s".
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Hosting;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>Options of <see cref="WcfsClient.JoinAsync"/>.</summary>
public sealed record WcfsClientOptions
{
    /// <summary>The actor system to host the client in (its <see cref="WcfsRuntime"/> gives the settings and
    /// the actors); null: the client creates one ("wcfs", from <see cref="Config"/>) and owns it.</summary>
    public ActorSystem? System { get; init; }

    /// <summary>The configuration of the actor system the client creates when <see cref="System"/> is null.</summary>
    public Config? Config { get; init; }

    /// <summary>Mount here instead of <c>&lt;mount-root&gt;/&lt;hash of url&gt;</c>.</summary>
    public string? Mountpoint { get; init; }

    /// <summary>Overrides <c>wcfs.autostart</c>.</summary>
    public bool? Autostart { get; init; }

    /// <summary>Overrides <c>wcfs.client.reattach-timeout</c> (zero: a conn whose server died does not wait for a new one).</summary>
    public TimeSpan? ReattachTimeout { get; init; }
}

/// <summary>A process's link to the WCFS server of one storage URL.</summary>
public sealed class WcfsClient : IAsyncDisposable
{
    private readonly Lock _zurlLock = new();
    private Microsoft.Win32.SafeHandles.SafeFileHandle _zurl;
    private bool _disposed;
    private readonly WcfsSettings? _autostart;
    private readonly bool _ownsSystem;

    private WcfsClient(string url, string mountpoint, WcfsRuntime runtime, bool ownsSystem, WcfsClientSettings settings, Microsoft.Win32.SafeHandles.SafeFileHandle zurl, WcfsServer.DetachedStart? restart, WcfsSettings? autostart)
    {
        Url = url;
        Mountpoint = mountpoint;
        System = runtime.System;
        _ownsSystem = ownsSystem;
        Settings = settings;
        _zurl = zurl;
        _autostart = autostart;
        Actor = runtime.NewClientActor(url, mountpoint, settings, restart, RenewLiveness);
    }

    /// <summary>The storage URL the server serves.</summary>
    public string Url { get; }

    /// <summary>Where the server is mounted.</summary>
    public string Mountpoint { get; }

    /// <summary>The actor system hosting the client.</summary>
    public ActorSystem System { get; }

    /// <summary>The WcfsActor of this client.</summary>
    public IActorRef Actor { get; }

    /// <summary>The validated <c>wcfs.client</c> settings (of the runtime's one settings object).</summary>
    public WcfsClientSettings Settings { get; }

    /// <summary>
    /// Finds the server of <paramref name="url"/> by <c>&lt;mnt&gt;/.wcfs/zurl</c>, starting <c>wcfs serve</c> (with
    /// every <c>wcfs.server</c> setting, <see cref="WcfsServer"/>) if there is none and <c>wcfs.autostart</c> is on,
    /// and keeps <c>.wcfs/zurl</c> open while the client lives.
    /// </summary>
    /// <exception cref="WcfsClientException">No server and autostart off, no wcfs tool, or the server exited at once.</exception>
    /// <exception cref="TimeoutException">The autostarted server did not answer within <c>wcfs.client.start-timeout</c>.</exception>
    public static async Task<WcfsClient> JoinAsync(string url, WcfsClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new WcfsClientOptions();
        var ownsSystem = options.System is null;
        var system = options.System ?? ActorSystem.Create("wcfs", Hosting.TimerQueueScheduler.For(StderrLogger.For(options.Config ?? Config.Empty))); // ours: never the host's stdout
        try
        {
            var runtime = WcfsRuntime.Get(system);
            var settings = runtime.Settings;
            var mnt = options.Mountpoint ?? MountPoint.For(url, settings.MountRoot);
            var (state, _) = await MountPoint.ProbeAsync(mnt, TimeSpan.FromSeconds(5), cancellationToken).ConfigureAwait(false);
            if (state != ServerState.Running)
            {
                if (!(options.Autostart ?? settings.Autostart))
                {
                    var shown = UrlRedaction.Redact(MountPoint.NormalizeUrl(url)); // never a password
                    var command = $"wcfs serve {shown}" + (options.Mountpoint is null ? "" : $" --mountpoint {mnt}");
                    throw new WcfsClientException($"no WCFS server for {shown} is running at {mnt} ({state}): start it with `{command}`, or set wcfs.autostart = on");
                }
                await WcfsServer.EnsureRunningAsync(url, settings, mountpoint: mnt, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            var client = settings.Client;
            if (options.ReattachTimeout is { } reattach)
                client = client with { ReattachTimeout = reattach >= TimeSpan.Zero ? reattach : throw new ArgumentOutOfRangeException(nameof(options), "ReattachTimeout must not be negative") };
            var zurl = File.OpenHandle(Path.Combine(mnt, ".wcfs", "zurl")); // invariant (2)
            // When the server dies, a conn starts a new one with this command (natively: no managed code in the gap).
            var restart = options.Autostart ?? settings.Autostart ? WcfsServer.DetachedCommand(new WcfsServer.Request(url, mnt, settings.Server)) : null;
            return new WcfsClient(url, mnt, runtime, ownsSystem, client, zurl, restart, restart is null ? null : settings);
        }
        catch
        {
            if (ownsSystem)
                await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits until the server's <c>head/at</c> is at least <paramref name="at"/> (bounded by start-timeout);
    /// while the server is gone it waits for a new one (<see cref="ReadHeadAtWaitingAsync"/>).</summary>
    /// <exception cref="WcfsServerGoneException">The server is gone and none came back within reattach-timeout.</exception>
    internal async Task WaitHeadAtAsync(Tid at, string what, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + Settings.StartTimeout;
        while (true)
        {
            var (head, waited) = await ReadHeadAtWaitingAsync(what, cancellationToken).ConfigureAwait(false);
            if (waited)
                deadline = DateTime.UtcNow + Settings.StartTimeout; // a new server: its own time to catch up
            if (head >= at)
                return;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"head/at of {Mountpoint} did not reach @{at} within {Settings.StartTimeout.TotalSeconds:0}s (is @{head})");
            await Task.Delay(2, cancellationToken).ConfigureAwait(false); // why: head/at has no change notification; poll its content
        }
    }

    /// <summary>
    /// The server's <c>head/at</c>. While the server is gone (the mount does not answer) this waits for a new
    /// server on the mountpoint up to <c>wcfs.client.reattach-timeout</c>, as the conns do (with autostart on it
    /// starts one, once: a client without a conn has no native pinner to do it); Waited says a gap was crossed.
    /// </summary>
    /// <exception cref="WcfsServerGoneException">No server came back in time (one line: mount, cause, timeout).</exception>
    private async Task<(Tid Head, bool Waited)> ReadHeadAtWaitingAsync(string what, CancellationToken cancellationToken)
    {
        var path = Path.Combine(Mountpoint, "head", "at");
        DateTime? goneUntil = null;
        var started = false;
        while (true)
        {
            try
            {
                var head = Tid.Parse(await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false));
                if (goneUntil is not null)
                    RenewLiveness();
                return (head, goneUntil is not null);
            }
            catch (IOException e)
            {
                goneUntil ??= DateTime.UtcNow + Settings.ReattachTimeout;
                if (DateTime.UtcNow >= goneUntil)
                    throw new WcfsServerGoneException(
                        $"{what}: the WCFS server at {Mountpoint} is gone ({e.Message}) and no server came back within {Seconds(Settings.ReattachTimeout)} (wcfs.client.reattach-timeout)",
                        e.HResult & 0xffff);
                if (_autostart is { } settings && !started)
                {
                    started = true;
                    try
                    {
                        await WcfsServer.EnsureRunningAsync(Url, settings, mountpoint: Mountpoint, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception x) when (x is WcfsClientException or TimeoutException or InvalidOperationException)
                    {
                        throw new WcfsServerGoneException($"{what}: the WCFS server at {Mountpoint} is gone ({e.Message}) and starting a new one failed: {x.Message}");
                    }
                    continue;
                }
                await Task.Delay(100, cancellationToken).ConfigureAwait(false); // why: a new server's mount appears without an event to wait on
            }
        }
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.#", global::System.Globalization.CultureInfo.InvariantCulture) + " s";

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
            throw new WcfsServerGoneException($"read {path}: {e.Message}; the WCFS server at {Mountpoint} is gone");
        }
    }

    /// <summary>
    /// Opens a connection at <paramref name="at"/> (default: the current head/at), waiting until the server reached
    /// it. While the server is gone it waits for a new one, up to <c>wcfs.client.reattach-timeout</c>.
    /// </summary>
    /// <exception cref="WcfsServerGoneException">The server is gone and none came back within reattach-timeout.</exception>
    /// <exception cref="TimeoutException">The server did not reach <paramref name="at"/> within <c>wcfs.client.start-timeout</c>.</exception>
    public async Task<Conn> ConnectAsync(Tid? at = null, CancellationToken cancellationToken = default)
    {
        var what = at is { } a ? $"connect @{a}" : "connect";
        var target = at ?? (await ReadHeadAtWaitingAsync(what, cancellationToken).ConfigureAwait(false)).Head;
        await WaitHeadAtAsync(target, what, cancellationToken).ConfigureAwait(false);
        var lifetime = new ConnLifetime();
        var started = await ClientAsk.Ask<ConnProtocol.Started>(Actor, new WcfsProtocol.Connect(target, lifetime), Settings.AskTimeout, $"connect @{target}", cancellationToken).ConfigureAwait(false);
        // a conn's requests (open, resync) may wait out a re-attach gap in its actor before their answer
        return new Conn(this, started.Conn, target, Settings.AskTimeout + Settings.ReattachTimeout, lifetime);
    }

    /// <summary>Re-opens <c>.wcfs/zurl</c> on the server now mounted at the mountpoint (invariant (2) after a
    /// re-attach: the old handle pointed at the dead mount, which it kept referenced). Any thread.</summary>
    internal void RenewLiveness()
    {
        lock (_zurlLock)
        {
            if (_disposed)
                return;
            Microsoft.Win32.SafeHandles.SafeFileHandle fresh;
            try
            {
                fresh = File.OpenHandle(Path.Combine(Mountpoint, ".wcfs", "zurl"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return; // not served right now: the next re-attach or gap renews it
            }
            _zurl.Dispose();
            _zurl = fresh;
        }
    }

    /// <summary>Stops the client's actors (their conns close), releases .wcfs/zurl, and stops the actor system if the client created it.</summary>
    public async ValueTask DisposeAsync()
    {
        WcfsRuntime.Get(System).ForgetClient(Actor);
        await Actor.GracefulStop(Settings.AskTimeout).ConfigureAwait(false);
        lock (_zurlLock)
        {
            _disposed = true;
            _zurl.Dispose();
        }
        if (_ownsSystem)
            await System.Terminate().ConfigureAwait(false);
    }
}
