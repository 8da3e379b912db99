// The standalone WCFS client against a real server (ARCHITECTURE.md §7, PROTOCOL.md §4.4): a
// mapping shows the file as of its Conn's at while head moves on; pins arrive lazily on access.
using Wcfs.Actors.Client;
using Xunit;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class StandaloneMappingTests
{
    [Fact]
    public async Task Blocks_read_as_of_at_while_head_moves_and_pins_arrive_lazily()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"), (1, "b1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, 4);
        Assert.Equal(["a1", "b1", "", ""], new[] { Text(m, 0), Text(m, 1), Text(m, 2), Text(m, 3) });
        ExpectPinned(fh);

        var at2 = await w.CommitAsync(f, (0, "a2"), (3, "d2"));
        ExpectPinned(fh); // lazy: nothing read through head yet
        Assert.Equal("a1", Text(m, 0)); // this fault needs our own pin (self-pin)
        ExpectPinned(fh, (0, at1));
        Assert.Equal("b1", Text(m, 1));
        Assert.Equal("", Text(m, 3)); // past the size as of at1: zeros, whatever head says
        Assert.Equal("a2", Server.ServerProcess.ReadBlock(w.Server.HeadPath(f), 0));
        Assert.Equal("d2", Server.ServerProcess.ReadBlock(w.Server.HeadPath(f), 3));
        Assert.Equal("a1", Text(m, 0));
        Assert.True(at2 > at1);
    }

    [Fact]
    public async Task A_block_read_through_head_with_plain_read_is_pinned_for_the_mapping_before_the_read_is_answered()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, 1);
        Assert.Equal("a1", Text(m, 0)); // in the shared page cache now
        await w.CommitAsync(f, (0, "a2"));
        Assert.Equal("a2", await Server.ServerProcess.ReadBlockAsync(w.Server.HeadPath(f), 0));
        ExpectPinned(fh, (0, at1)); // the pin came before the other reader got its data
        Assert.Equal("a1", Text(m, 0));
    }

    [Fact]
    public async Task Two_opens_of_one_file_share_one_FileH_until_the_last_close()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        var fh1 = await conn.OpenAsync(f);
        var fh2 = await conn.OpenAsync(f);
        Assert.Same(fh1, fh2);
        Assert.Equal(2, (await conn.GetStateAsync()).Files[f]);
        using var m = await fh1.MmapAsync(0, 1);
        await w.CommitAsync(f, (0, "a2"));
        Assert.Equal("a1", Text(m, 0));
        ExpectPinned(fh2, (0, at1));
        await fh1.DisposeAsync();
        Assert.Equal("a1", Text(m, 0)); // one reference left: the mapping still works
        Assert.Equal(1, (await conn.GetStateAsync()).Files[f]);
        await fh2.DisposeAsync();
        Assert.Empty((await conn.GetStateAsync()).Files);
        Assert.Equal(0, w.Server.Stat("Watch"));
    }

    [Fact]
    public async Task RemmapBlk_maps_a_block_back_to_its_pin_else_to_head()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "a1"), (1, "b1"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, 2);
        Assert.Equal("a1", Text(m, 0));
        await w.CommitAsync(f, (0, "a2"));
        Assert.Equal("a1", Text(m, 0)); // pinned to at1
        m.RemmapBlk(0);
        m.RemmapBlk(1);
        Assert.Equal(["a1", "b1"], new[] { Text(m, 0), Text(m, 1) });
        Assert.Throws<ArgumentException>(() => m.RemmapBlk(2)); // outside the mapping
        ExpectPinned(fh, (0, at1));
    }
}
