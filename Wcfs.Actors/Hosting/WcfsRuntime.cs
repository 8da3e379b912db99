// WcfsRuntime - the Akka extension that hosts wcfs-actors inside an ActorSystem (API.md §2), built
// the way Akka's own extensions are (DistributedPubSub, Akka.Persistence): the one entry point.
//
// What it owns:
//   - the configuration: it injects reference.conf as the system's top-level fallback, once, when
//     the extension is created (so the dispatchers it declares exist before any wcfs actor);
//   - the settings: ONE immutable WcfsSettings read from the system's config, once; unknown keys
//     under `wcfs` are logged as warnings naming them; invalid values fail WcfsRuntime.Get (and so the
//     host's start under Akka.Hosting) with a message naming the key;
//   - the runtime's actors, system actors under stable names:
//       /system/wcfs-virtmem-<page size>     VirtmemActor of every BigFileH with that page size
//       /system/wcfs-client-<mount hash>-<n> WcfsActor of the n-th WcfsClient joined to that mount
//     (a client's WcfsActor is stopped when the client is disposed; the virtmem actors live as long
//     as the system);
//   - the entry points: OpenDatabaseAsync, JoinAsync (Database.OpenAsync and WcfsClient.JoinAsync
//     with an ActorSystem come here; without one they create exactly one system, "wcfs", and own it);
//   - the registry of its live clients (URL, mountpoint, WcfsActor), which the health check walks:
//     CheckHealthAsync (Diagnostics/WcfsHealth.cs; Akka.Hosting's check "wcfs" calls it).
// What it does not own: the WCFS server (a process of its own, started by WcfsServer), storage
// (Database), the native tier.
//
// One actor system per app: the app's (passed, or hosted by Akka.Hosting with WithWcfs), or the one
// a standalone Database/WcfsClient creates. No code path of the runtime creates a second one.
//
// Threading: Get may be called from any thread (Akka creates the extension once). Virtmem and the
// client-actor counter are safe for concurrent callers.
using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Event;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Db;
using Wcfs.Actors.Diagnostics;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Hosting;

/// <summary>The wcfs-actors runtime of one ActorSystem: its settings, its actors and its entry points.</summary>
public sealed class WcfsRuntime : IExtension
{
    private readonly ExtendedActorSystem _system;
    private readonly ConcurrentDictionary<long, Lazy<IActorRef>> _virtmem = new();
    private readonly ConcurrentDictionary<IActorRef, ClientEntry> _live = new();
    private long _clients;

    /// <summary>A live client of the runtime: the URL its server serves, the mountpoint, its WcfsActor, its re-attach timeout.</summary>
    internal sealed record ClientEntry(string Url, string Mountpoint, IActorRef Actor, TimeSpan ReattachTimeout);

    /// <summary>Created by <see cref="WcfsRuntimeProvider"/>; use <see cref="Get"/>.</summary>
    /// <exception cref="Akka.Configuration.ConfigurationException">Invalid settings (the message names the key).</exception>
    public WcfsRuntime(ExtendedActorSystem system)
    {
        _system = system;
        system.Settings.InjectTopLevelFallback(WcfsSettings.Reference);
        Settings = WcfsSettings.FromConfig(system.Settings.Config);
        foreach (var key in Settings.UnknownKeys)
            system.Log.Warning("unknown setting {Key}: reference.conf declares no such key under wcfs (a typo?); it is ignored", key);
    }

    /// <summary>The runtime of <paramref name="system"/> (created on first use).</summary>
    public static WcfsRuntime Get(ActorSystem system) => system.WithExtension<WcfsRuntime, WcfsRuntimeProvider>();

    /// <summary>The actor system hosting the runtime.</summary>
    public ActorSystem System => _system;

    /// <summary>The validated <c>wcfs { }</c> settings, read once.</summary>
    public WcfsSettings Settings { get; }

    /// <summary>Opens a database hosted in this runtime's actor system (see <see cref="Database.OpenAsync"/>).</summary>
    public Task<Database> OpenDatabaseAsync(string url = "", DatabaseOptions? options = null, CancellationToken cancellationToken = default) =>
        Database.OpenAsync(url, (options ?? new DatabaseOptions()) with { System = _system }, cancellationToken);

    /// <summary>Joins the WCFS server of <paramref name="url"/> from this runtime's actor system (see <see cref="WcfsClient.JoinAsync"/>).</summary>
    public Task<WcfsClient> JoinAsync(string url, WcfsClientOptions? options = null, CancellationToken cancellationToken = default) =>
        WcfsClient.JoinAsync(url, (options ?? new WcfsClientOptions()) with { System = _system }, cancellationToken);

    /// <summary>The VirtmemActor for pages of <paramref name="pageSize"/> bytes (<c>/system/wcfs-virtmem-&lt;size&gt;</c>).</summary>
    public IActorRef Virtmem(long pageSize) =>
        _virtmem.GetOrAdd(pageSize, size => new Lazy<IActorRef>(() =>
            _system.SystemActorOf(VirtmemProtocol.Props(VirtmemProtocol.Settings.From(Settings, size)), $"wcfs-virtmem-{size}"))).Value;

    /// <summary>
    /// The health of the runtime: every mount its clients use has a reachable server (the checks of
    /// <c>wcfs status</c>), their conns' watch links are up and their pinners alive. Healthy when no
    /// client joined yet. The description names each problem and what to do; the data holds every line.
    /// </summary>
    public async Task<HealthCheckResult> CheckHealthAsync(CancellationToken cancellationToken = default) =>
        WcfsHealth.ToResult(await WcfsHealth.RunAsync(this, WcfsHealth.Timeout, cancellationToken).ConfigureAwait(false));

    /// <summary>The live clients (the health check walks them).</summary>
    internal IReadOnlyCollection<ClientEntry> Clients => [.. _live.Values];

    /// <summary>A new WcfsActor for one client of <paramref name="url"/> at <paramref name="mountpoint"/>
    /// (<c>/system/wcfs-client-&lt;hash&gt;-&lt;n&gt;</c>), registered until <see cref="ForgetClient"/>.</summary>
    internal IActorRef NewClientActor(string url, string mountpoint, WcfsClientSettings settings, Client.WcfsServer.DetachedStart? autostart, Action? reattached = null)
    {
        var actor = _system.SystemActorOf(WcfsProtocol.Props(mountpoint, settings, autostart, reattached),
            $"wcfs-client-{MountHash(mountpoint)}-{Interlocked.Increment(ref _clients)}");
        _live[actor] = new ClientEntry(url, mountpoint, actor, settings.ReattachTimeout);
        return actor;
    }

    /// <summary>The client of <paramref name="actor"/> is being disposed: no longer checked.</summary>
    internal void ForgetClient(IActorRef actor) => _live.TryRemove(actor, out _);

    private static string MountHash(string mountpoint) =>
        Convert.ToHexStringLower(global::System.Security.Cryptography.SHA1.HashData(global::System.Text.Encoding.UTF8.GetBytes(mountpoint)))[..8];
}

/// <summary>Extension id of <see cref="WcfsRuntime"/>.</summary>
public sealed class WcfsRuntimeProvider : ExtensionIdProvider<WcfsRuntime>
{
    /// <inheritdoc />
    public override WcfsRuntime CreateExtension(ExtendedActorSystem system) => new(system);
}
