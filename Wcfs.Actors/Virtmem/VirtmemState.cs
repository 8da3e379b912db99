// VirtmemState - the functional core of VirtmemActor: which handles exist and their writeout phase.
// Pure: every method returns a new state or a verdict; the actor performs the native effects.
using System.Collections.Immutable;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Virtmem;

/// <summary>Writeout phase of one handle.</summary>
internal enum WritePhase
{
    /// <summary>No writeout in progress.</summary>
    Idle,

    /// <summary>STORE done, MARKSTORED not yet: pages are read-only and a write is a usage error.</summary>
    Stored,
}

/// <summary>One open handle.</summary>
internal sealed record HandleEntry(BigFile File, VmFileHHandle Native, WritePhase Phase);

/// <summary>All handles of one VirtmemActor.</summary>
internal sealed record VirtmemState(ImmutableDictionary<FileHandleId, HandleEntry> Handles, long NextId)
{
    public static VirtmemState Empty { get; } = new(ImmutableDictionary<FileHandleId, HandleEntry>.Empty, 1);

    public (VirtmemState State, FileHandleId Id) Add(BigFile file, VmFileHHandle native)
    {
        var id = new FileHandleId(NextId);
        return (this with { Handles = Handles.Add(id, new HandleEntry(file, native, WritePhase.Idle)), NextId = NextId + 1 }, id);
    }

    public VirtmemState Remove(FileHandleId id) => this with { Handles = Handles.Remove(id) };

    public HandleEntry? Find(FileHandleId id) => Handles.GetValueOrDefault(id);

    public VirtmemState WithPhase(FileHandleId id, WritePhase phase) =>
        Handles.TryGetValue(id, out var e) ? this with { Handles = Handles.SetItem(id, e with { Phase = phase }) } : this;

    /// <summary>Null if the writeout may run, else why not (a usage error).</summary>
    public string? CheckWriteout(FileHandleId id, WriteoutFlags flags)
    {
        if (Find(id) is not { } e)
            return $"{id} is not open";
        if ((flags & (WriteoutFlags.Store | WriteoutFlags.MarkStored)) == 0)
            return "writeout needs Store, MarkStored or both";
        if (flags.HasFlag(WriteoutFlags.Store) && e.File.Store is null)
            return $"{id}: the file has no storeblk (IBlockStore), so it cannot STORE";
        if (flags == WriteoutFlags.MarkStored && e.Phase != WritePhase.Stored)
            return $"{id}: MARKSTORED without a preceding STORE";
        return null;
    }
}
