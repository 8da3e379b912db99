// RuntimeKnobs - the .NET runtime settings of every .NET process wcfs-actors starts: the WCFS
// server (WcfsTool.StartInfo), the demo's workers and the bench's reader processes.
//
// DOTNET_JitHostMaxSlabCache=1. The runtime keeps the JIT's freed scratch memory (up to 16 MiB by
// default) for the next compilation and gives it back only from the finalizer thread, after GCs at
// least 2 s apart. A process that starts, maps an array and then only reads it runs no GC, so it kept
// that memory for good: a demo worker held 9.6 MiB of native heap, 8.5 MiB of it 144 such slabs
// (heaptrack: "leaked" from libclrjit; /proc/PID/smaps [heap]). With the knob the JIT frees its
// scratch memory after each compilation: [heap] 1.5 MiB, the worker's start time unchanged within
// noise (0.93-0.99 s either way), PSS 5-7 MiB lower per process (docs/NOTES.md "Data path, sixth
// pass"). An app that hosts the library sets it in its own environment (README).
//
// A value already in the environment (the user's) wins; nothing else is changed.
using System.Diagnostics;

namespace Wcfs.Actors.Hosting;

/// <summary>Runtime settings for the .NET processes wcfs-actors starts.</summary>
public static class RuntimeKnobs
{
    /// <summary>The environment variables and values set for a child .NET process.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Environment { get; } =
        [new("DOTNET_JitHostMaxSlabCache", "1")];

    /// <summary>Sets each of <see cref="Environment"/> in <paramref name="psi"/> unless the child's
    /// environment (inherited from this process, or set by the caller) already has it.</summary>
    public static ProcessStartInfo ApplyTo(ProcessStartInfo psi)
    {
        ArgumentNullException.ThrowIfNull(psi);
        foreach (var (name, value) in Environment)
            if (!psi.Environment.ContainsKey(name))
                psi.Environment[name] = value;
        return psi;
    }
}
