// WcfsRuntime - the Akka extension that hosts wcfs-actors inside the user's ActorSystem (API.md §2).
//
// Owns: the validated settings (read once from the system's config with reference.conf as
// fallback) and the entry points of the runtime. Created lazily, once per ActorSystem, by
// WcfsRuntime.Get(system); invalid settings fail there with a message naming the key.
using Akka.Actor;
using Wcfs.Actors.Configuration;

namespace Wcfs.Actors.Hosting;

/// <summary>The wcfs-actors runtime of one ActorSystem.</summary>
public sealed class WcfsRuntime : IExtension
{
    /// <summary>Created by <see cref="WcfsRuntimeProvider"/>; use <see cref="Get"/>.</summary>
    public WcfsRuntime(ExtendedActorSystem system)
    {
        System = system;
        Settings = WcfsSettings.FromConfig(system.Settings.Config);
    }

    /// <summary>The runtime of <paramref name="system"/> (created on first use).</summary>
    public static WcfsRuntime Get(ActorSystem system) => system.WithExtension<WcfsRuntime, WcfsRuntimeProvider>();

    /// <summary>The actor system hosting the runtime.</summary>
    public ActorSystem System { get; }

    /// <summary>The validated <c>wcfs { }</c> settings.</summary>
    public WcfsSettings Settings { get; }
}

/// <summary>Extension id of <see cref="WcfsRuntime"/>.</summary>
public sealed class WcfsRuntimeProvider : ExtensionIdProvider<WcfsRuntime>
{
    /// <inheritdoc />
    public override WcfsRuntime CreateExtension(ExtendedActorSystem system) => new(system);
}
