// In-process tests of a watch link's functional core (WatchLinkBuffers.cs): the frame splitter and
// the out-queue. No mount, no actor system.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Server;
using Xunit;

namespace Wcfs.Actors.Tests.Server;

public sealed class WatchLinkBuffersTests
{
    private static List<string> Lines(FrameSplitter s, string text, out string? overLong)
    {
        var lines = new List<string>();
        overLong = s.Feed(Encoding.ASCII.GetBytes(text), l => { lines.Add(l); return true; });
        return lines;
    }

    [Fact]
    public void Lines_split_across_writes_come_out_whole_and_in_order()
    {
        var s = new FrameSplitter(255);
        Assert.Empty(Lines(s, "1 wat", out var over));
        Assert.Null(over);
        Assert.Equal(["1 watch a b", "2 ack"], Lines(s, "ch a b\n2 ack\n3 b", out _));
        Assert.Equal(["3 bye"], Lines(s, "ye\n", out _));
    }

    [Fact]
    public void A_line_over_the_limit_is_reported_once_with_its_first_bytes_and_nothing_follows()
    {
        var s = new FrameSplitter(8);
        Assert.Equal(["1 ok"], Lines(s, "1 ok\n1 xxxxxxxxxx\n2 ack\n", out var over));
        Assert.Equal("1 xxxxxx", over);
        Assert.True(s.Failed);
        Assert.Empty(Lines(s, "2 ack\n", out over));
        Assert.Null(over);
    }

    [Fact]
    public void The_splitter_stops_where_the_link_says_so()
    {
        var s = new FrameSplitter(255);
        var seen = new List<string>();
        Assert.Null(s.Feed("a\nb\nc\n"u8, l => { seen.Add(l); return l != "b"; }));
        Assert.Equal(["a", "b"], seen);
    }

    [Fact]
    public void A_megabyte_of_short_lines_is_split_in_linear_time()
    {
        var s = new FrameSplitter(255);
        var data = new StringBuilder().Insert(0, "1 x\n", 262144).ToString();
        var t = Stopwatch.StartNew();
        Assert.Equal(262144, Lines(s, data, out _).Count);
        // Linear: ~1 M byte steps. The quadratic splitter this replaces took minutes here.
        Assert.True(t.Elapsed < TimeSpan.FromSeconds(10), $"took {t.Elapsed}");
    }

    [Fact]
    public void The_out_queue_hands_out_bytes_in_order_across_frames_and_counts_them_exactly()
    {
        var q = new OutQueue();
        q.Enqueue("2 pin a\n");
        q.Enqueue("1 ok\n");
        Assert.Equal(13, q.Bytes);
        q.Enqueue("4 pin b\n", reply: false);
        Assert.Equal(21, q.Bytes);
        Assert.Equal(13, q.ReplyBytes); // pins do not count against the reply bound
        Assert.Equal("2 pin", Encoding.ASCII.GetString(q.Take(5)));
        Assert.Equal(8, q.ReplyBytes);
        Assert.Equal(" a\n1 ok\n4 pin b\n", Encoding.ASCII.GetString(q.Take(100)));
        Assert.Equal(0, q.ReplyBytes);
        Assert.True(q.IsEmpty);
        Assert.Empty(q.Take(10));
    }
}
