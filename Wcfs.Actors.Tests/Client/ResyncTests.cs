// Resync (ARCHITECTURE.md §7, VIRTMEM.md §4.5, PROTOCOL.md §4.3): moving a Conn forward pins and
// unpins exactly as a fresh watch at the new at would; sizes grow without clobbering pins; going
// back is refused and closes the Conn.
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Xunit;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class ResyncTests
{
    [Fact]
    public async Task Resync_forward_pins_and_unpins_exactly_as_a_fresh_watch_would()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"), (1, "b1"), (2, "c1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, 3);
        Assert.Equal(["a1", "b1", "c1"], new[] { Text(m, 0), Text(m, 1), Text(m, 2) });
        var at2 = await w.CommitAsync(f, (0, "a2"));
        var at3 = await w.CommitAsync(f, (1, "b3"));
        Assert.Equal(["a1", "b1", "c1"], new[] { Text(m, 0), Text(m, 1), Text(m, 2) }); // self-pins
        ExpectPinned(fh, (0, at1), (1, at1));

        await conn.ResyncAsync(at2);
        Assert.Equal(at2, conn.At);
        ExpectPinned(fh, (1, at1));
        Assert.Equal(["a2", "b1", "c1"], new[] { Text(m, 0), Text(m, 1), Text(m, 2) });
        await using (var fresh = await w.Client.ConnectAsync(at2)) // the invariant of PROTOCOL.md §4.3
        await using (var fh2 = await fresh.OpenAsync(f))
            Assert.Equal(fh2.Pinned, fh.Pinned);

        await conn.ResyncAsync(at3);
        ExpectPinned(fh);
        Assert.Equal(["a2", "b3", "c1"], new[] { Text(m, 0), Text(m, 1), Text(m, 2) });
    }

    [Fact]
    public async Task Resync_backward_is_refused_and_closes_the_conn()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"));
        var at2 = await w.CommitAsync(f, (0, "a2"));
        var conn = await w.Client.ConnectAsync(at2);
        await using var fh = await conn.OpenAsync(f);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => conn.ResyncAsync(at1));
        Assert.Contains("going back in history", e.Message, StringComparison.Ordinal);
        Assert.True(conn.IsClosed);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => conn.OpenAsync(f));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => fh.MmapAsync(0, 1));
        Assert.Equal(0, w.Server.Stat("Watch"));
        await conn.DisposeAsync(); // closing again is fine
    }

    [Fact]
    public async Task Growth_unzeroes_new_blocks_clamped_to_each_mapping_without_clobbering_a_pin_made_before_it()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, 4);
        using var beyond = await fh.MmapAsync(5, 3); // starts past the end
        Assert.Equal(["a1", "", "", ""], new[] { Text(m, 0), Text(m, 1), Text(m, 2), Text(m, 3) });
        Assert.Equal(["", "", ""], new[] { Text(beyond, 5), Text(beyond, 6), Text(beyond, 7) });

        var at2 = await w.CommitAsync(f, (3, "d2"));
        await w.CommitAsync(f, (2, "c3"));
        // another reader reads block 2 through head: our watch (at1) gets a pin for it, to a revision
        // where it does not exist (zeros) - and a fresh watch at at2 would pin it to the same revision,
        // so the server sends nothing for it at resync: only our resize keeps it from showing head (c3)
        Assert.Equal("c3", await ServerProcess.ReadBlockAsync(w.Server.HeadPath(f), 2));
        Assert.True(fh.Pinned.TryGetValue(new BlockNumber(2), out var rev2), "block 2 was not pinned");

        await conn.ResyncAsync(at2);
        Assert.Equal(4 * 4096, fh.Size);
        Assert.Equal(["a1", "", "", "d2"], new[] { Text(m, 0), Text(m, 1), Text(m, 2), Text(m, 3) });
        Assert.Equal(["", "", ""], new[] { Text(beyond, 5), Text(beyond, 6), Text(beyond, 7) });
        ExpectPinned(fh, (2, rev2)); // (block 3, maybe pinned by readahead, changed at at2: unpinned)

        var at4 = await w.CommitAsync(f, (6, "g4"));
        await conn.ResyncAsync(at4);
        Assert.Equal(["", "g4", ""], new[] { Text(beyond, 5), Text(beyond, 6), Text(beyond, 7) });
        Assert.Equal("c3", Text(m, 2));
        ExpectPinned(fh);
    }
}
