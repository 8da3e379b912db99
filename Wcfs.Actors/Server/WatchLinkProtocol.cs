// WatchLinkProtocol - the messages, settings and props of WatchLinkActor, one actor per open of
// head/watch (PROTOCOL.md §4; the design is in WatchLinkActor.cs).
//
//   from                        message          what the link does
//   FUSE write thread           Inbound          splits frames, handles them, then answers the write
//                                                (a write of acks only is taken on the FUSE thread,
//   FUSE write thread           PinsAcked        LinkPins.cs; the link only cancels their timeouts)
//   FUSE read thread            LinkRead         answers with queued frames, EOF, or later
//   FUSE interrupt thread       LinkInterrupt    answers a pending read with EINTR
//   FUSE release thread         Released         closes (kills if a pin is outstanding)
//   reader / HeadActor, under   SendPin          sends a pin frame; completes Done on ack, close
//     Head.Lock                                  or after the kill of its client
//   HeadActor                   SetupReply       error reply, or "ok" once the setup's pins are done
//   HeadActor                   LinkDropped      the link's watches are gone: it may stop
using Akka.Actor;
using Wcfs.Actors.Protocol;

namespace Wcfs.Actors.Server;

/// <summary>Messages, settings and props of the watch-link actor.</summary>
internal static class WatchLinkProtocol
{
    /// <summary>Limits and timeouts of one link.</summary>
    /// <param name="PinTimeout">A pin not acknowledged within this kills the client.</param>
    /// <param name="MaxOutBytes">Bytes of replies queued for a client that does not read them; over it
    /// the link ends. 256 KiB: the replies of MaxRequests pipelined watches with long error texts.</param>
    /// <param name="MaxRequests">Watch requests queued or in progress on one link; over it the link ends.</param>
    public sealed record Settings(TimeSpan PinTimeout, long MaxOutBytes = 256 << 10, int MaxRequests = 1024);

    /// <summary>
    /// The buffers FUSE writes of head/watch are copied into (FuseBridge) until their link handled
    /// them: chunks of at most ChunkBytes (64 KiB, below the large-object heap), from a pool of its
    /// own that keeps few arrays. A flood of 1 MiB writes then neither allocates large objects (no
    /// gen2 collections from it) nor leaves the pool holding megabytes (issue 12: RSS returns).
    /// </summary>
    public static readonly System.Buffers.ArrayPool<byte> WriteBuffers = System.Buffers.ArrayPool<byte>.Create(ChunkBytes, 32);

    /// <summary>The largest chunk of WriteBuffers.</summary>
    public const int ChunkBytes = 64 << 10;

    /// <summary>Copies <paramref name="data"/> into chunks rented from WriteBuffers.</summary>
    public static byte[][] CopyToChunks(ReadOnlySpan<byte> data)
    {
        var chunks = new byte[(data.Length + ChunkBytes - 1) / ChunkBytes][];
        for (var i = 0; i < chunks.Length; i++)
        {
            var part = data.Slice(i * ChunkBytes, Math.Min(ChunkBytes, data.Length - i * ChunkBytes));
            chunks[i] = WriteBuffers.Rent(part.Length);
            part.CopyTo(chunks[i]);
        }
        return chunks;
    }

    /// <summary>Returns the chunks of a write to WriteBuffers.</summary>
    public static void ReturnChunks(byte[][] chunks)
    {
        foreach (var c in chunks)
            WriteBuffers.Return(c);
    }

    /// <summary>Bytes the client wrote (a FUSE write request, answered by the link after handling).</summary>
    /// <param name="Request">The FUSE write request.</param>
    /// <param name="Chunks">The bytes in order, ChunkBytes per chunk (the last one shorter), from WriteBuffers; the link returns them.</param>
    /// <param name="Length">Bytes written.</param>
    public sealed record Inbound(ulong Request, byte[][] Chunks, int Length);

    /// <summary>A read of the link by the client (a FUSE read request of up to Size bytes).</summary>
    public sealed record LinkRead(ulong Request, int Size, bool Interrupted);

    /// <summary>The kernel interrupted a pending read of the link.</summary>
    public sealed record LinkInterrupt(ulong Request);

    /// <summary>The last close of the link's file.</summary>
    public sealed record Released;

    /// <summary>Send this pin; complete Done when it is acknowledged (or the link closed, or its client was killed).</summary>
    public sealed record SendPin(PinRequest Pin, TaskCompletionSource Done);

    /// <summary>Acks the FUSE write thread took (LinkPins fast path): cancel their timeouts.</summary>
    public sealed record PinsAcked(ulong[] Streams);

    /// <summary>The answer to a SetupWatch: Error set → "error ...", else "ok" after every pin completed.</summary>
    public sealed record SetupReply(ulong Stream, string? Error, IReadOnlyList<Task> Pins);

    /// <summary>HeadActor dropped every watch of the link: no SendPin can come any more.</summary>
    public sealed record LinkDropped;

    internal sealed record PinTimedOut(ulong Stream);

    internal sealed record SetupPinsDone(ulong Stream);

    internal sealed record KillDone;

    /// <summary>Props of the link actor for link <paramref name="id"/> opened by the process <paramref name="opener"/> (a pidfd; null if it could not be taken).</summary>
    public static Props Props(WcfsFileSystem fs, IActorRef head, ulong id, ProcessHandle? opener, LinkPins pins, Settings settings, string dispatcher) =>
        Akka.Actor.Props.Create(() => new WatchLinkActor(fs, head, id, opener, pins, settings)).WithDispatcher(dispatcher);
}
