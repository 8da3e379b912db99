// Figures of the WCFS client (issue 5 "Performance"; reported in docs/NOTES.md): pin round trip seen
// from the client, resync cost for many pinned blocks, reading through a Mapping vs a plain mmap of
// head. CI runs a small default; WCFS_CLIENT_FIGURES_FULL=1 runs the sizes of the issue (1,000
// pinned blocks, 1 GiB). The figures are printed; the asserts only check that what was measured
// is what was meant (every block pinned, the bytes read are the bytes written). The speed of a
// Mapping against a plain mmap of head is the `wcfs bench client-read` case (BenchClientRead.cs),
// not a timed assert here.
using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using Akka.Actor;
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Xunit;
using Xunit.Abstractions;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class ClientFigures(ITestOutputHelper output)
{
    private static readonly bool Full = Environment.GetEnvironmentVariable("WCFS_CLIENT_FIGURES_FULL") == "1";

    private void Report(string line)
    {
        output.WriteLine(line);
        Console.WriteLine(line);
        if (Environment.GetEnvironmentVariable("WCFS_CLIENT_FIGURES_OUT") is { Length: > 0 } path)
            File.AppendAllText(path, line + "\n");
    }

    [Fact]
    public async Task Pin_round_trip_and_resync_cost_for_many_pinned_blocks()
    {
        var blocks = Full ? 1000 : 200;
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, [.. Enumerable.Range(0, blocks).Select(b => ((long)b, (string?)$"v1-{b}"))]);
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, blocks);
        for (var b = 0; b < blocks; b++)
            Assert.Equal($"v1-{b}", Text(m, b));
        await w.CommitAsync(f, [.. Enumerable.Range(0, blocks).Select(b => ((long)b, (string?)$"v2-{b}"))]);
        var sw = Stopwatch.StartNew();
        for (var b = 0; b < blocks; b++)
            Assert.Equal($"v1-{b}", Text(m, b)); // each a self-pin
        var faults = sw.Elapsed;
        Assert.Equal(blocks, fh.Pinned.Count);

        var stats = await w.Client.System.ActorSelection(conn.Actor.Path / "pinner")
            .Ask<PinnerProtocol.PinStats>(new PinnerProtocol.GetStats(), ServerProcess.Scaled(10));
        var d = stats.RecentDurations.Select(x => x.TotalMicroseconds).Order().ToArray();
        Assert.True(d.Length >= blocks, $"{d.Length} pin copies for {blocks} pins");
        Report($"pin round trip seen from the client (start of handling the pin frame -> ack written), {d.Length} pins: p50 {d[d.Length / 2]:0} us, p99 {d[(int)(d.Length * 0.99)]:0} us, max {d[^1]:0} us");
        Report($"self-pinned faults: {blocks} blocks in {faults.TotalMilliseconds:0} ms ({faults.TotalMicroseconds / blocks:0} us per fault incl. server read)");

        sw.Restart();
        await conn.ResyncAsync(w.Server.HeadAt()); // unpins every block
        var resync = sw.Elapsed;
        Assert.Empty(fh.Pinned);
        Report($"resync forward with {blocks} pinned blocks (all unpinned): {resync.TotalMilliseconds:0} ms");
    }

    [Fact]
    public async Task Reading_through_a_Mapping_returns_the_bytes_of_head_and_its_speed_is_reported_next_to_a_plain_mmap()
    {
        const int blockSize = 2 << 20;
        var blocks = Full ? 512 : 16; // 1 GiB : 32 MiB
        await using var w = await StartAsync();
        var f = w.Server.CreateFile(blockSize);
        var data = new byte[blockSize];
        Tid at = default;
        for (var start = 0; start < blocks; start += 32)
        {
            var n = Math.Min(32, blocks - start);
            var writes = Enumerable.Range(start, n).Select(b =>
            {
                var d = new byte[blockSize];
                d.AsSpan().Fill((byte)(b + 1));
                return new BlockWrite(f, b, d);
            }).ToList();
            at = w.Server.Storage.Commit(w.Server.Storage.LastTid, [], writes);
        }
        await w.Server.WaitHeadAtAsync(at);
        await using var conn = await w.Client.ConnectAsync(at);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, blocks);
        var bytes = (long)blocks * blockSize;
        var expect = Sum(Enumerable.Range(0, blocks).Select(b => (byte)(b + 1)), blockSize);

        // plain mmap of head first (the Mapping is not touched yet, so drop_caches can evict everything)
        TimeSpan? tPlainCold = null;
        TimeSpan tPlainWarm;
        using (var mmf = MemoryMappedFile.CreateFromFile(w.Server.HeadPath(f), FileMode.Open, null, 0, MemoryMappedFileAccess.Read))
        using (var view = mmf.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read))
        {
            var plain = view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (nint)view.PointerOffset;
            if (DropCaches())
                tPlainCold = Time(() => Assert.Equal(expect, Sum(plain, bytes)));
            tPlainWarm = Best(() => Assert.Equal(expect, Sum(plain, bytes)));
        }
        TimeSpan? tMapCold = null;
        if (DropCaches())
            tMapCold = Time(() => Assert.Equal(expect, Sum(m.Address, bytes)));
        var tMapWarm = Best(() => Assert.Equal(expect, Sum(m.Address, bytes)));

        double Gbs(TimeSpan t) => bytes / t.TotalSeconds / 1e9;
        Report($"read {bytes >> 20} MiB (2 MiB blocks), best of 3 warm: Mapping {Gbs(tMapWarm):0.00} GB/s, plain mmap of head {Gbs(tPlainWarm):0.00} GB/s, ratio {tPlainWarm / tMapWarm:0.00}");
        if (tPlainCold is { } pc && tMapCold is { } mc)
            Report($"read {bytes >> 20} MiB cold (after drop_caches): Mapping {Gbs(mc):0.00} GB/s, plain mmap of head {Gbs(pc):0.00} GB/s, ratio {pc / mc:0.00}");
        else
            Report("cold reads not measured: /proc/sys/vm/drop_caches is not writable");
    }

    private static TimeSpan Best(Action a) => Enumerable.Range(0, 3).Select(_ => Time(a)).Min();

    private static TimeSpan Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed;
    }

    /// <summary>Wrapping sum of the 64-bit words of [addr, addr+bytes): the bench's read loop.</summary>
    private static ulong Sum(nint addr, long bytes) => Wcfs.Host.Cli.BenchClientRead.Sum(addr, bytes);

    /// <summary>The same sum for blocks filled with the given bytes.</summary>
    private static ulong Sum(IEnumerable<byte> fills, int blockSize)
    {
        ulong s = 0;
        foreach (var b in fills)
            s += b * 0x0101010101010101ul * (ulong)(blockSize / 8);
        return s;
    }

    /// <summary>Drops the page cache (root; the FUSE file's pages too). False if not permitted.</summary>
    private static bool DropCaches() => Wcfs.Host.Cli.BenchClientRead.DropCaches();
}
