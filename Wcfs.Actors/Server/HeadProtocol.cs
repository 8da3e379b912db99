// HeadProtocol - the messages, settings and props of HeadActor, the one actor that owns head/:
// commit processing in order, cache invalidation (the one notifying thread), watch setup against
// history (the design is in HeadActor.cs).
//
//   from                    message           reply
//   change-stream task      Commit            -
//   WatchLinkActor          SetupWatch        WatchLinkProtocol.SetupReply (at once, or once head/at ≥ at)
//   WatchLinkActor          LinkClosed        WatchLinkProtocol.LinkDropped
//   idle @rev timer         InvalidateEntry   - (a dentry notification, sent from the notifying thread)
using Akka.Actor;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

/// <summary>Messages, settings and props of the head actor.</summary>
internal static class HeadProtocol
{
    /// <summary>How commits touch the kernel cache.</summary>
    public enum Invalidation
    {
        /// <summary>Invalidate the changed blocks (the only correct mode).</summary>
        On,
        /// <summary>Never invalidate (wrong data; only for the test that proves invalidation matters).</summary>
        Off,
        /// <summary>Invalidate, then report a failure (only for the test of EIO mode).</summary>
        FailForTest,
    }

    /// <summary>Settings of the head actor.</summary>
    /// <param name="Invalidation">How the changed blocks leave the kernel cache.</param>
    /// <param name="Prefetch">Reads each commit's changed blocks into the kernel cache once head/at moved (null: off).</param>
    public sealed record Settings(Invalidation Invalidation, CommitPrefetcher? Prefetch = null);

    /// <summary>A change record from storage, in order; SeenTimestamp is when it arrived (Stopwatch ticks).</summary>
    public sealed record Commit(ChangeRecord Record, long SeenTimestamp);

    /// <summary>A watch request of link LinkId on Stream (the sender is the link actor).</summary>
    public sealed record SetupWatch(ulong LinkId, ulong Stream, WatchRequest Request);

    /// <summary>The link closed: drop its watches and its waiting setups, then answer LinkDropped.</summary>
    public sealed record LinkClosed(ulong LinkId);

    /// <summary>Invalidate the root's dentry <c>Name</c> (a forgotten @rev directory).</summary>
    public sealed record InvalidateEntry(string Name);

    internal sealed record ReadsDrained(ChangeRecord Record, long SeenTimestamp, List<(HeadFile File, ReadGeneration Old, long[] Blocks)> Changed);

    /// <summary>Props of the head actor; it runs on its own thread (the dispatcher given), the only one that notifies.</summary>
    public static Props Props(WcfsFileSystem fs, FuseSessionHandle session, Settings settings, string dispatcher) =>
        Akka.Actor.Props.Create(() => new HeadActor(fs, session, settings)).WithDispatcher(dispatcher);
}
