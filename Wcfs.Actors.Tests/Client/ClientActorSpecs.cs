// Akka.TestKit specs of the client actors' protocols (no server: the native side is absent or
// provoked to fail). PinnerActor copies and supervision, FileHActor/MappingActor lifecycle, the
// pure mirror of the pinned table, ConnActor's start failure.
using Akka.Actor;
using Akka.TestKit;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Client;

public class ClientActorSpecs(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(WcfsSettings.Reference, output: output)
{
    private static readonly Oid F = new(0xa1);

    private static PinnerProtocol.PinObserved Pin(long blk, ulong? rev, bool acked = true) =>
        new(F, new BlockNumber(blk), rev is { } r ? new Tid(r) : null, acked, acked ? null : "file not watched by this link", TimeSpan.FromMicroseconds(42));

    [Fact]
    public void Pin_copies_reach_the_parent_and_every_subscriber()
    {
        var pinner = ChildActorOf(PinnerProtocol.PropsWithoutReader());
        var sub = CreateTestProbe();
        pinner.Tell(new PinnerProtocol.Subscribe(sub.Ref));
        pinner.Tell(Pin(3, 0xb0));
        Assert.Equal(Pin(3, 0xb0), ExpectMsg<PinnerProtocol.PinObserved>()); // the parent (ConnActor's role)
        Assert.Equal(Pin(3, 0xb0), sub.ExpectMsg<PinnerProtocol.PinObserved>());
        pinner.Tell(new PinnerProtocol.GetStats());
        var stats = ExpectMsg<PinnerProtocol.PinStats>();
        Assert.Equal((1L, 0L, 1), (stats.Pins, stats.Naks, stats.RecentDurations.Count));
    }

    [Fact]
    public void A_nak_is_counted_and_logged_at_error_level()
    {
        var pinner = ChildActorOf(PinnerProtocol.PropsWithoutReader());
        EventFilter.Error(contains: "answered nak: file not watched by this link").ExpectOne(() => pinner.Tell(Pin(1, 0xb0, acked: false)));
        ExpectMsg<PinnerProtocol.PinObserved>(p => !p.Acked);
        pinner.Tell(new PinnerProtocol.GetStats());
        Assert.Equal(1, ExpectMsg<PinnerProtocol.PinStats>().Naks);
    }

    [Fact]
    public void Replies_go_to_the_parent()
    {
        var pinner = ChildActorOf(PinnerProtocol.PropsWithoutReader());
        pinner.Tell(new PinnerProtocol.Reply(3, "ok"));
        Assert.Equal(new PinnerProtocol.Reply(3, "ok"), ExpectMsg<PinnerProtocol.Reply>());
    }

    [Fact]
    public void A_broken_link_goes_to_the_parent_as_one_message_and_the_pinner_fails_nothing()
    {
        var failures = CreateTestProbe();
        var pinner = ChildActorOf(PinnerProtocol.PropsWithoutReader(), new OneForOneStrategy(e =>
        {
            failures.Tell(e);
            return Directive.Stop;
        }));
        pinner.Tell(new PinnerProtocol.LinkDown("EOF: the server closed the link"));
        Assert.Equal("EOF: the server closed the link", ExpectMsg<PinnerProtocol.LinkDown>().Reason);
        failures.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // why: proves no exception (and so no ERROR with a stack trace) follows
    }

    [Fact]
    public unsafe void Native_events_become_protocol_messages()
    {
        var e = new ClientNative.Event { Kind = ClientNative.EventPin, Rc = -2, Oid = 0xa1, Blk = 7, Rev = 0xb0, Nanos = 1500 };
        var p = Assert.IsType<PinnerProtocol.PinObserved>(PinnerProtocol.ToMessage(e));
        Assert.Equal((F, 7L, (Tid?)new Tid(0xb0), false, "file not watched by this link"), (p.File, p.Block.Value, p.Rev, p.Acked, p.Error));
        var h = new ClientNative.Event { Kind = ClientNative.EventPin, IsHead = 1, Oid = 0xa1, Blk = 2 };
        Assert.Null(Assert.IsType<PinnerProtocol.PinObserved>(PinnerProtocol.ToMessage(h)).Rev);
        var r = new ClientNative.Event { Kind = ClientNative.EventReply, Stream = 5, TextLength = 2 };
        r.Text[0] = (byte)'o';
        r.Text[1] = (byte)'k';
        Assert.Equal(new PinnerProtocol.Reply(5, "ok"), PinnerProtocol.ToMessage(r));
    }

    [Fact]
    public void The_pinned_mirror_follows_acked_pin_copies_only()
    {
        var pinned = FileHProtocol.Apply(new Dictionary<BlockNumber, Tid>(), Pin(1, 0xb0));
        pinned = FileHProtocol.Apply(pinned, Pin(2, 0xb1));
        pinned = FileHProtocol.Apply(pinned, Pin(2, null)); // @head: unpin
        pinned = FileHProtocol.Apply(pinned, Pin(5, 0xc0, acked: false));
        Assert.Equal(new Dictionary<BlockNumber, Tid> { [new BlockNumber(1)] = new Tid(0xb0) }, pinned);
    }

    [Fact]
    public void FileH_actor_mirrors_pins_and_stops_after_closing_its_file()
    {
        var fh = Sys.ActorOf(FileHProtocol.Props(F, null, WcfsProtocol.DispatcherId));
        Watch(fh);
        fh.Tell(Pin(4, 0xb0));
        fh.Tell(new FileHProtocol.GetPinnedMirror());
        var mirror = ExpectMsg<FileHProtocol.PinnedMirror>();
        Assert.Equal(new Tid(0xb0), mirror.Pinned[new BlockNumber(4)]);
        fh.Tell(new FileHProtocol.Mmap(0, 1));
        ExpectMsg<Status.Failure>();
        fh.Tell(new FileHProtocol.CloseFile());
        Assert.Equal(F, ExpectMsg<FileHProtocol.FileClosed>().File);
        ExpectTerminated(fh);
    }

    [Fact]
    public void Mapping_actor_keeps_the_books_and_stops_when_unmapped()
    {
        var m = Sys.ActorOf(MappingProtocol.Props(2, 6));
        Watch(m);
        m.Tell(new MappingProtocol.Remapped(3));
        m.Tell(new MappingProtocol.FileClosed());
        m.Tell(new MappingProtocol.GetState());
        Assert.Equal(new MappingProtocol.MappingState(2, 6, true, 1), ExpectMsg<MappingProtocol.MappingState>());
        m.Tell(new MappingProtocol.Unmapped());
        ExpectTerminated(m);
    }

    [Fact]
    public void Conn_actor_that_cannot_open_the_watch_link_answers_failure_and_stops()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wcfs-nomount-" + Guid.NewGuid().ToString("N")[..8]);
        var conn = Sys.ActorOf(ConnProtocol.Props(new ConnProtocol.Settings(dir, WcfsProtocol.DispatcherId, TimeSpan.FromSeconds(5)), new ConnLifetime()));
        Watch(conn);
        conn.Tell(new ConnProtocol.Start(new Tid(1)));
        var f = ExpectMsg<Status.Failure>();
        Assert.Contains(dir, f.Cause.Message, StringComparison.Ordinal);
        ExpectTerminated(conn);
    }

    [Fact]
    public void Wcfs_actor_answers_failure_for_each_connect_whose_link_cannot_open_and_survives_it()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wcfs-nomount-" + Guid.NewGuid().ToString("N")[..8]);
        var wcfs = Sys.ActorOf(WcfsProtocol.Props(dir, WcfsSettings.Default.Client));
        wcfs.Tell(new WcfsProtocol.Connect(new Tid(1), new ConnLifetime()));
        Assert.Contains("open watch link of " + dir, ExpectMsg<Status.Failure>().Cause.Message, StringComparison.Ordinal);
        wcfs.Tell(new WcfsProtocol.Connect(new Tid(2), new ConnLifetime()));
        ExpectMsg<Status.Failure>(); // the parent survives a failed conn
    }
}
