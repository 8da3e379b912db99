// Watch setup (PROTOCOL.md §4.3) and lazy pins on access (§4.4) against a real server.
using Wcfs.Actors.Storage;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class WatchPinTests(SharedServer shared) : IClassFixture<SharedServer>
{
    /// <summary>
    /// History: at1 {0,1} · at2 {1,2} · at3 {0,3} · at4 {2} · at5 {1,3}; blocks 0..2 read through
    /// head, block 3 never. tail = the file's creation (the server's start).
    /// </summary>
    private sealed record History(ServerProcess S, Oid F, Tid Tail, Tid[] At)
    {
        public static async Task<History> CreateAsync(ServerProcess s)
        {
            var f = s.CreateFile();
            var tail = s.Storage.LastTid;
            var at = new[]
            {
                s.Commit(f, (0, "a1"), (1, "b1")),
                s.Commit(f, (1, "b2"), (2, "c2")),
                s.Commit(f, (0, "a3"), (3, "d3")),
                s.Commit(f, (2, "c4")),
                s.Commit(f, (1, "b5"), (3, "d5")),
            };
            await s.WaitHeadAtAsync(at[^1]);
            for (var b = 0; b < 3; b++)
                ReadBlock(s.HeadPath(f), b);
            return new History(s, f, tail, at);
        }

        /// <summary>The pins a fresh watch at At[k] must get, as "blk:@rev" text (block 2 did not
        /// exist at at1: it is pinned to the start of the window, the file's creation).</summary>
        public string Expected(int k) => k switch
        {
            0 => $"0:@{At[0]} 1:@{At[0]} 2:@{Tail}",
            1 => $"0:@{At[0]} 1:@{At[1]} 2:@{At[1]}",
            2 => $"1:@{At[1]} 2:@{At[1]}",
            3 => $"1:@{At[1]}",
            _ => "",
        };
    }

    private static string Text(SortedDictionary<long, string> pins) => string.Join(" ", pins.Select(p => $"{p.Key}:{p.Value}"));

    private static async Task<History> StartWithHistoryAsync(ServerProcess s)
    {
        var h = await History.CreateAsync(s);
        return h;
    }

    [Fact]
    public async Task Fresh_watch_pins_exactly_the_read_blocks_changed_after_at_to_their_revision_as_of_at()
    {
        var s = shared.StartTest();
        var h = await StartWithHistoryAsync(s);
        for (var k = 0; k < 5; k++)
        {
            await using var link = new RawLink(s.Mountpoint);
            var pins = await link.WatchAsync(1, h.F, h.At[k]);
            Assert.Equal(h.Expected(k), Text(pins));
        }
    }

    [Fact]
    public async Task After_any_increasing_sequence_of_watches_the_pinned_set_equals_a_fresh_watch()
    {
        var s = shared.StartTest();
        var h = await StartWithHistoryAsync(s);
        // every increasing subsequence of at1..at5 (31 of them), each on its own link
        for (var mask = 1; mask < 32; mask++)
        {
            await using var link = new RawLink(s.Mountpoint);
            var pinned = new SortedDictionary<long, string>();
            ulong stream = 1;
            var last = -1;
            for (var k = 0; k < 5; k++)
            {
                if ((mask & (1 << k)) == 0)
                    continue;
                var got = await link.WatchAsync(stream, h.F, h.At[k]);
                stream += 2;
                foreach (var (blk, rev) in got)
                {
                    Assert.False(pinned.TryGetValue(blk, out var cur) && cur == rev, $"block {blk} pinned again at the same {rev}");
                    if (rev == "@head") pinned.Remove(blk);
                    else pinned[blk] = rev;
                }
                last = k;
            }
            await using var fresh = new RawLink(s.Mountpoint);
            var want = await fresh.WatchAsync(1, h.F, h.At[last]);
            Assert.Equal(Text(want), Text(pinned));
        }
    }

    [Fact]
    public async Task Lazy_pins_go_to_each_older_watch_with_the_block_revision_as_of_its_at_and_never_twice()
    {
        var s = shared.StartTest();
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"), (1, "b1"));
        var at2 = s.Commit(f, (0, "a2"));
        var at3 = s.Commit(f, (0, "a3"), (1, "b3"));
        await s.WaitHeadAtAsync(at3);
        _ = File.Exists(s.HeadPath(f));
        await s.WaitNoLinksAsync(); // PinnedBlk below is absolute: no pins of earlier tests' links
        await using var l1 = new RawLink(s.Mountpoint);
        await using var l2 = new RawLink(s.Mountpoint);
        await using var l3 = new RawLink(s.Mountpoint);
        Assert.Empty(await l1.WatchAsync(1, f, at1)); // nothing read yet: no pins
        Assert.Empty(await l2.WatchAsync(1, f, at2));
        Assert.Empty(await l3.WatchAsync(1, f, at3));
        var pinsBefore = s.Stat("pin");

        // read blk 0 via head: l1 and l2 get their pins in parallel, the read waits for both acks
        var read = ReadBlockAsync(s.HeadPath(f), 0);
        var p1 = LinkClient.ParsePin(await l1.NextAsync());
        var p2 = LinkClient.ParsePin(await l2.NextAsync()); // arrives before l1 acked: parallel
        Assert.Equal((0L, $"@{at1}"), (p1.Blk, p1.Rev));
        Assert.Equal((0L, $"@{at2}"), (p2.Blk, p2.Rev));
        Assert.True(await l3.QuietAsync(0.2));
        Assert.False(read.IsCompleted, "the read must wait for the acks");
        l1.Send($"{p1.Stream} ack");
        Assert.False(await Task.WhenAny(read, Task.Delay(Scaled(0.3))) == read, "the read must wait for every ack"); // why: a bounded window to show the read does NOT complete; no event exists for that
        l2.Send($"{p2.Stream} ack");
        Assert.Equal("a3", await read.WaitAsync(Scaled(10)));

        // again: already pinned, no messages
        Assert.Equal("a3", ReadBlock(s.HeadPath(f), 0));
        Assert.True(await l1.QuietAsync(0.2));
        Assert.True(await l2.QuietAsync(0.1));

        // blk 1: changed at at1 and at3 → l1 and l2 both pinned @at1
        read = ReadBlockAsync(s.HeadPath(f), 1);
        var q1 = LinkClient.ParsePin(await l1.NextAsync());
        var q2 = LinkClient.ParsePin(await l2.NextAsync());
        Assert.Equal((1L, $"@{at1}"), (q1.Blk, q1.Rev));
        Assert.Equal((1L, $"@{at1}"), (q2.Blk, q2.Rev));
        l1.Send($"{q1.Stream} ack");
        l2.Send($"{q2.Stream} ack");
        Assert.Equal("b3", await read.WaitAsync(Scaled(10)));
        Assert.True(await l3.QuietAsync(0.2));
        Assert.Equal(4, s.Stat("PinnedBlk"));
        Assert.Equal(4, s.Stat("pin") - pinsBefore);
    }

    [Fact]
    public async Task A_mapping_read_by_another_process_waits_for_the_ack_and_completes_right_after()
    {
        var s = shared.StartTest();
        var (f, at1, at2) = await s.FileWithTwoRevisionsAsync();
        await using var link = new RawLink(s.Mountpoint);
        Assert.Empty(await link.WatchAsync(1, f, at1));

        var child = s.StartChild($"{WcfsDll} test-client mmap-read {s.HeadPath(f)} 0 16");
        var pin = LinkClient.ParsePin(await link.NextAsync());
        Assert.Equal((0L, $"@{at1}"), (pin.Blk, pin.Rev));
        using (var cts = new CancellationTokenSource(Scaled(0.5)))
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => child.WaitForExitAsync(cts.Token)); // still blocked in its fault
        var acked = DateTime.UtcNow;
        link.Send($"{pin.Stream} ack");
        using (var cts = new CancellationTokenSource(Scaled(10)))
            await child.WaitForExitAsync(cts.Token);
        Assert.Equal(0, child.ExitCode);
        Assert.Contains("mmap a2", s.Log);
        Assert.Equal($"a1", ReadBlock(s.RevPath(at1, f), 0)); // where the pin points
    }
}
