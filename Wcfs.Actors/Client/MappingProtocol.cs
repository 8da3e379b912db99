// MappingProtocol - messages and Props of MappingActor (STYLE.md "Actors").
//
// A MappingActor owns one native mapping's lifecycle: it is created by its FileHActor on Mmap and
// stops when the user disposes the Mapping (Unmapped) or its file closes (FileClosed: the native
// file already made the range fault, the handle stays until the user disposes). The data-plane
// calls (RemmapBlk, unmap) are native calls the public Mapping makes directly: they only post to
// the native mmap actor and return (ARCHITECTURE.md §3); the actor keeps the bookkeeping.
//
//   FileHActor: create(handle)   Mapping.Dispose: Unmapped -> stop   FileHActor: FileClosed
using Akka.Actor;

namespace Wcfs.Actors.Client;

/// <summary>Messages and Props of MappingActor.</summary>
public static class MappingProtocol
{
    /// <summary>The user disposed the Mapping (the native range is unmapped); the actor stops.</summary>
    public sealed record Unmapped;

    /// <summary>The file of this mapping closed: the range faults from now on.</summary>
    public sealed record FileClosed;

    /// <summary>A block was re-mapped through the public API (bookkeeping copy).</summary>
    public sealed record Remapped(long Block);

    /// <summary>Asks for the state. Reply: <see cref="MappingState"/>.</summary>
    public sealed record GetState;

    /// <summary>The mapping's blocks, whether its file closed, and how many RemmapBlk calls it saw.</summary>
    public sealed record MappingState(long BlkStart, long BlkStop, bool FileClosed, long Remaps);

    /// <summary>Props of the actor of one mapping.</summary>
    /// <remarks>The actor never unmaps: a stopped actor must not free a range the user may still read
    /// (it would be reused by other mappings); the Mapping's SafeHandle does, exactly once.</remarks>
    public static Props Props(long blkStart, long blkStop) =>
        Akka.Actor.Props.Create(() => new MappingActor(blkStart, blkStop));
}

internal sealed class MappingActor : ReceiveActor
{
    private bool _fileClosed;
    private long _remaps;

    public MappingActor(long blkStart, long blkStop)
    {
        Receive<MappingProtocol.Unmapped>(_ => Context.Stop(Self));
        Receive<MappingProtocol.FileClosed>(_ => _fileClosed = true);
        Receive<MappingProtocol.Remapped>(_ => _remaps++);
        Receive<MappingProtocol.GetState>(_ => Sender.Tell(new MappingProtocol.MappingState(blkStart, blkStop, _fileClosed, _remaps)));
    }
}
