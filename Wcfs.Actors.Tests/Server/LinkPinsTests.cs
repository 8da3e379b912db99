// In-process tests of LinkPins, the pins in flight of a watch link shared with the FUSE write
// threads: which writes the ack fast path takes (and completes nothing else), and which it leaves
// to the link actor with nothing taken. No mount, no actor system.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Server;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Server;

public sealed class LinkPinsTests
{
    private static LinkPins.Pending Pin(long blk) =>
        new(new PinRequest(new Oid(7), new BlockNumber(blk), new Tid(5)), new TaskCompletionSource(), Stopwatch.GetTimestamp());

    private static LinkPins WithPins(params ulong[] streams)
    {
        var pins = new LinkPins();
        foreach (var s in streams)
            pins.Add(s, Pin((long)s));
        return pins;
    }

    private static List<ulong>? Take(LinkPins pins, string write) =>
        pins.TryTakeAcks(Encoding.ASCII.GetBytes(write))?.Select(x => x.Stream).ToList();

    [Fact]
    public void A_write_of_acks_of_pins_in_flight_takes_exactly_those_pins()
    {
        var pins = WithPins(2, 4, 6);
        Assert.Equal([4UL, 2UL], Take(pins, "4 ack\n2 ack\n"));
        Assert.Equal(1, pins.Count);
        Assert.True(pins.TryGet(6, out _));
    }

    [Theory]
    [InlineData("2 ack")]               // no final newline: part of a frame
    [InlineData("2 ack\n4 a")]          // ends inside a frame
    [InlineData("2 nak\n")]             // not an ack: the actor kills
    [InlineData("2 ack\n8 ack\n")]      // 8 is not in flight: the actor kills
    [InlineData("2 ack\n2 ack\n")]      // the second is unexpected: the actor kills
    [InlineData("1 watch 0000000000000007 @0000000000000005\n")] // a request
    [InlineData("2 ack\n5 bye\n")]      // mixed
    [InlineData("\n")]                  // an empty frame is invalid
    [InlineData("02x ack\n")]           // not a frame
    public void Any_other_write_is_left_to_the_actor_with_nothing_taken(string write)
    {
        var pins = WithPins(2, 4);
        Assert.Null(Take(pins, write));
        Assert.Equal(2, pins.Count);
    }

    [Fact]
    public void While_a_write_is_queued_for_the_actor_or_its_splitter_holds_a_partial_line_acks_go_to_the_actor_too()
    {
        var pins = WithPins(2);
        pins.WriteQueued();
        Assert.Null(Take(pins, "2 ack\n")); // an earlier write may hold the start of this frame
        pins.WriteHandled(splitterHolds: true);
        Assert.Null(Take(pins, "2 ack\n")); // "2 a" + "ck\n" must reach the splitter in order
        pins.WriteQueued();
        pins.WriteHandled(splitterHolds: false);
        Assert.Equal([2UL], Take(pins, "2 ack\n"));
    }

    [Fact]
    public void A_closed_table_takes_no_ack_and_close_hands_every_pin_out_once()
    {
        var pins = WithPins(2, 4);
        var closed = pins.Close();
        Assert.Equal([2UL, 4UL], closed.Select(x => x.Stream).Order());
        Assert.Equal(0, pins.Count);
        pins.Add(6, Pin(6)); // a pin sent by a racing reader after the close
        Assert.Null(Take(pins, "6 ack\n"));
        Assert.Equal([6UL], pins.Close().Select(x => x.Stream));
        Assert.Empty(pins.Close());
    }
}
