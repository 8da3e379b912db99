// PinnerProtocol - messages and Props of PinnerActor (STYLE.md "Actors").
//
// PinnerActor supervises one native pinner (one watch link) from the side: a reader thread drains
// the pinner's non-blocking event queue and hands each event to the actor. It is never on the ack
// path (the native pinner acked before the copy was queued: wcfs_client.c invariant 2).
//
//   native pinner --(queue + eventfd)--> reader thread --Event--> PinnerActor
//   PinnerActor: Reply  -> parent (ConnActor)          PinObserved -> parent + subscribers
//                Down   -> parent (ConnActor marks the conn broken and logs one warning line)
//                LastWords -> logged at error level
//                Reattaching, Reattached -> parent (the server died / a new one took over: ConnActor)
using Akka.Actor;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>Messages and Props of PinnerActor.</summary>
public static class PinnerProtocol
{
    /// <summary>A reply to a client request (odd stream).</summary>
    public sealed record Reply(ulong Stream, string Text);

    /// <summary>A copy of one pin the native pinner handled: Rev null = @head; Acked false = nak (Error says why).</summary>
    public sealed record PinObserved(Oid File, BlockNumber Block, Tid? Rev, bool Acked, string? Error, TimeSpan Duration);

    /// <summary>The link is down (forwarded to the parent ConnActor).</summary>
    public sealed record LinkDown(string Reason);

    /// <summary>The server died; the native pinner waits for a new one (wcfs.client.reattach-timeout). Text: why, how long, where.</summary>
    public sealed record Reattaching(string Text);

    /// <summary>The native side re-mapped and re-watched every file of the conn on a new server (ConnActor re-sends its requests).</summary>
    public sealed record Reattached(string Text);

    /// <summary>Subscribe <paramref name="Subscriber"/> to every <see cref="PinObserved"/> (tests, metrics).</summary>
    public sealed record Subscribe(IActorRef Subscriber);

    /// <summary>Asks for the statistics so far. Reply: <see cref="PinStats"/>.</summary>
    public sealed record GetStats;

    /// <summary>Pins seen, naks, and the last durations (for p50/p99).</summary>
    public sealed record PinStats(long Pins, long Naks, IReadOnlyList<TimeSpan> RecentDurations);

    /// <summary>Props of a PinnerActor that drains <paramref name="conn"/>'s events.</summary>
    public static Props Props(WclConnHandle conn, string dispatcher) =>
        Akka.Actor.Props.Create(() => new PinnerActor(conn)).WithDispatcher(dispatcher);

    /// <summary>Props without a native conn (actor specs send the events to the actor directly).</summary>
    internal static Props PropsWithoutReader() => Akka.Actor.Props.Create(() => new PinnerActor(null));

    /// <summary>Turns a native event into its message (pure).</summary>
    internal static object? ToMessage(in ClientNative.Event e) => e.Kind switch
    {
        ClientNative.EventReply => new Reply(e.Stream, e.TextString()),
        ClientNative.EventPin => new PinObserved(new Oid(e.Oid), new BlockNumber((long)e.Blk), e.IsHead != 0 ? null : new Tid(e.Rev),
            e.Rc == 0, e.Rc == 0 ? null : NakReason(e.Rc), TimeSpan.FromTicks((long)(e.Nanos / 100))),
        ClientNative.EventDown => new LinkDown(e.TextString()),
        ClientNative.EventLastWords => new LastWords(e.TextString()),
        ClientNative.EventReattaching => new Reattaching(e.TextString()),
        ClientNative.EventReattached => new Reattached(e.TextString()),
        _ => null,
    };

    /// <summary>The server's last words on stream 0 (internal; logged).</summary>
    internal sealed record LastWords(string Text);

    private static string NakReason(int rc) => -rc switch
    {
        ClientErrors.ENOENT => "file not watched by this link",
        ClientErrors.ERANGE => "block out of range",
        71 => "malformed pin request", // EPROTO
        _ => $"cannot remap the block (errno {-rc})",
    };
}
