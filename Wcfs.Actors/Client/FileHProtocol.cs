// FileHProtocol - messages and Props of FileHActor (STYLE.md "Actors").
//
// A FileHActor is one open file of a Conn: it owns the native file handle (head fd, pinned table,
// mappings; opened by ConnActor before the watch so that pins during setup are served), creates a
// MappingActor per Mapping, and mirrors the pinned table from the pin copies (diagnostics; the
// native table is authoritative and is what FileH.Pinned reads).
//
//   C: Mmap(blkStart, blkLen)   S: Mapped(handle, actor)   | Status.Failure
//   ConnActor: CloseFile        S: FileClosed (native file closed: its mappings fault), then stops
//   PinnerActor (via ConnActor): PinObserved -> mirror      C: GetPinnedMirror  S: PinnedMirror
using Akka.Actor;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>Messages and Props of FileHActor.</summary>
public static class FileHProtocol
{
    /// <summary>Map blocks [BlkStart, BlkStart+BlkLen). Reply: <see cref="Mapped"/> or <see cref="Status.Failure"/>.</summary>
    public sealed record Mmap(long BlkStart, long BlkLen);

    /// <summary>The new mapping's native handle and its actor.</summary>
    public sealed record Mapped(WclMappingHandle Handle, IActorRef Actor);

    /// <summary>Close the native file (after the unwatch). Reply: <see cref="FileClosed"/>; the actor then stops.</summary>
    public sealed record CloseFile;

    /// <summary>The native file is closed; its mappings fault from now on.</summary>
    public sealed record FileClosed(Oid File);

    /// <summary>Asks for the mirror of the pinned table. Reply: <see cref="PinnedMirror"/>.</summary>
    public sealed record GetPinnedMirror;

    /// <summary>blk → rev as seen through pin copies; and the number of live mappings.</summary>
    public sealed record PinnedMirror(IReadOnlyDictionary<BlockNumber, Tid> Pinned, int Mappings);

    /// <summary>Props of the actor of one open file (<paramref name="handle"/> may be null in actor specs).</summary>
    public static Props Props(Oid file, WclFileHandle? handle, string dispatcher) =>
        Akka.Actor.Props.Create(() => new FileHActor(file, handle)).WithDispatcher(dispatcher);

    /// <summary>The mirror after one pin copy (pure).</summary>
    public static IReadOnlyDictionary<BlockNumber, Tid> Apply(IReadOnlyDictionary<BlockNumber, Tid> pinned, PinnerProtocol.PinObserved pin)
    {
        if (!pin.Acked)
            return pinned;
        var d = new Dictionary<BlockNumber, Tid>(pinned);
        if (pin.Rev is { } rev)
            d[pin.Block] = rev;
        else
            d.Remove(pin.Block);
        return d;
    }
}

internal sealed class FileHActor : ReceiveActor
{
    private readonly Oid _file;
    private readonly WclFileHandle? _handle;
    private IReadOnlyDictionary<BlockNumber, Tid> _pinned = new Dictionary<BlockNumber, Tid>();

    public FileHActor(Oid file, WclFileHandle? handle)
    {
        _file = file;
        _handle = handle;
        Receive<FileHProtocol.Mmap>(Handle);
        Receive<PinnerProtocol.PinObserved>(p => _pinned = FileHProtocol.Apply(_pinned, p));
        Receive<FileHProtocol.GetPinnedMirror>(_ => Sender.Tell(new FileHProtocol.PinnedMirror(_pinned, Context.GetChildren().Count())));
        Receive<FileHProtocol.CloseFile>(_ => Handle());
        Receive<Terminated>(_ => { });
    }

    private void Handle(FileHProtocol.Mmap m)
    {
        if (_handle is null)
        {
            Sender.Tell(new Status.Failure(new InvalidOperationException("no native file")));
            return;
        }
        try
        {
            var h = WclMappingHandle.Map(_handle, m.BlkStart, m.BlkLen);
            var actor = Context.ActorOf(MappingProtocol.Props(m.BlkStart, m.BlkStart + m.BlkLen));
            Sender.Tell(new FileHProtocol.Mapped(h, actor));
        }
        catch (Exception e) when (e is WcfsClientException or ArgumentException)
        {
            Sender.Tell(new Status.Failure(e));
        }
    }

    private void Handle()
    {
        _handle?.Dispose(); // native close: unregister, make every mapping fault (wcfs_client.c invariant 5)
        Sender.Tell(new FileHProtocol.FileClosed(_file));
        var children = Context.GetChildren().ToList();
        if (children.Count == 0)
        {
            Context.Stop(Self);
            return;
        }
        // the mappings learn that their file closed, then stop; this actor stops after the last one
        var remaining = children.Count;
        Become(() =>
        {
            Receive<Terminated>(_ => { if (--remaining == 0) Context.Stop(Self); });
            Receive<FileHProtocol.GetPinnedMirror>(_ => Sender.Tell(new FileHProtocol.PinnedMirror(_pinned, remaining)));
            ReceiveAny(_ => Sender.Tell(new Status.Failure(new ObjectDisposedException(nameof(FileH), $"file {_file} is closed"))));
        });
        foreach (var child in children)
        {
            Context.Watch(child);
            child.Tell(new MappingProtocol.FileClosed());
            child.Tell(PoisonPill.Instance);
        }
    }
}
