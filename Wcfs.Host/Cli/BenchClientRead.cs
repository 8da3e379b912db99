// BenchClientRead - the `client-read` case of `wcfs bench` (issue 5 "Performance"): reading a file
// through a WCFS client Mapping (Conn at head, FileH, MmapAsync: the client's own VMA whose pages
// come from the server's page cache) vs a plain read-only mmap of head/bigfile/<oid> of the same
// server. Both sum every 64-bit word, warm (page cache filled by a first pass): the Mapping should
// cost nothing over the plain mmap (ideal ratio 1). Median of 3 passes each, min-max in the log.
// Cold reads need drop_caches (root); without it only warm figures are reported, and the log says so.
using System.Diagnostics;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal sealed class BenchClientRead : IBenchCase
{
    public string Name => "client-read";
    public string Description => "read of a file through a WCFS client Mapping vs a plain mmap of head/ (warm; cold with root)";

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        const int bs = 2 << 20;
        var blocks = ctx.Quick ? 16 : 512; // 32 MiB : 1 GiB
        var bytes = (long)blocks * bs;
        var url = "sqlite://" + Path.Combine(ctx.TempDir, "db.sqlite");
        Oid oid;
        Tid at;
        using (var s = StorageFactory.Open(url))
        {
            oid = s.NewOid();
            s.Commit(s.LastTid, [new ObjectWrite(oid, new ZBigFileState(bs))], []);
            for (var start = 0; start < blocks; start += 32)
            {
                var writes = new List<BlockWrite>();
                for (var b = start; b < Math.Min(start + 32, blocks); b++)
                {
                    var data = new byte[bs];
                    BenchPattern.Fill(data, (long)b * bs);
                    writes.Add(new BlockWrite(oid, b, data));
                }
                s.Commit(s.LastTid, [], writes);
            }
            at = s.LastTid;
        }
        ctx.Log.WriteLine($"  stored {bytes >> 20} MiB");

        await using var server = await BenchServer.StartAsync(url, Path.Combine(ctx.TempDir, "mnt"), prefetch: false); // cold reads
        var head = Path.Combine(server.Mountpoint, "head", "bigfile", oid.ToString());
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (Tid.Parse(await File.ReadAllTextAsync(Path.Combine(server.Mountpoint, "head", "at"), ct)) < at)
        {
            if (DateTime.UtcNow > deadline)
                throw new CommandException($"bench client-read: head/at did not reach {at} within 60 s");
            await Task.Delay(5, ct); // why: bench wait for a foreign event with no notification; bounded
        }

        // a quiet actor system: stdout carries only the figures table
        using var system = DemoCommand.QuietSystem(Akka.Configuration.ConfigurationFactory.ParseString("wcfs.autostart = off").WithFallback(Wcfs.Actors.Configuration.WcfsSettings.Reference));
        await using var client = await WcfsClient.JoinAsync(url, new WcfsClientOptions { System = system, Mountpoint = server.Mountpoint, Autostart = false });
        await using var conn = await client.ConnectAsync(at);
        await using var fh = await conn.OpenAsync(oid);
        using var mapping = await fh.MmapAsync(0, blocks);
        var expect = Sum(head, bytes);

        var results = new List<BenchResult>();
        // cold first: a page mapped by a process survives drop_caches, so each cold pass maps fresh
        if (DropCaches())
        {
            var plainCold = WithPlainMmap(head, bytes, plain => Gbs(bytes, Time(() => Check(plain, bytes, expect, "plain mmap"))));
            DropCaches();
            var mapCold = Gbs(bytes, Time(() => Check(mapping.Address, bytes, expect, "Mapping")));
            results.Add(new BenchResult(Name, "cold read: Mapping vs plain mmap of head", "GB/s", mapCold, plainCold, true));
        }
        else
            ctx.Log.WriteLine("  cold reads not measured: /proc/sys/vm/drop_caches is not writable (run as root)");
        Check(mapping.Address, bytes, expect, "Mapping"); // warm: page cache and the Mapping's page tables
        var mapWarm = Passes(() => Check(mapping.Address, bytes, expect, "Mapping"), bytes);
        var plainWarm = WithPlainMmap(head, bytes, plain =>
        {
            Check(plain, bytes, expect, "plain mmap");
            return Passes(() => Check(plain, bytes, expect, "plain mmap"), bytes);
        });
        ctx.Log.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  warm GB/s, 3 passes: Mapping {mapWarm.Min:0.00}-{mapWarm.Max:0.00}, plain mmap {plainWarm.Min:0.00}-{plainWarm.Max:0.00}"));
        results.Add(new BenchResult(Name, "warm read: Mapping vs plain mmap of head (median of 3)", "GB/s", mapWarm.Median, plainWarm.Median, true));
        return results;
    }

    /// <summary>Runs <paramref name="f"/> on a fresh read-only mmap of <paramref name="path"/>, unmapped afterwards.</summary>
    private static T WithPlainMmap<T>(string path, long bytes, Func<nint, T> f)
    {
        using var mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = mmf.CreateViewAccessor(0, bytes, MemoryMappedFileAccess.Read);
        return f(view.SafeMemoryMappedViewHandle.DangerousGetHandle() + (nint)view.PointerOffset);
    }

    private static (double Median, double Min, double Max) Passes(Action pass, long bytes)
    {
        var g = Enumerable.Range(0, 3).Select(_ => Gbs(bytes, Time(pass))).Order().ToArray();
        return (g[1], g[0], g[2]);
    }

    private static double Gbs(long bytes, TimeSpan t) => bytes / t.TotalSeconds / 1e9;

    private static TimeSpan Time(Action a)
    {
        var sw = Stopwatch.StartNew();
        a();
        return sw.Elapsed;
    }

    private static void Check(nint addr, long bytes, ulong expect, string what)
    {
        var got = Sum(addr, bytes);
        if (got != expect)
            throw new CommandException($"bench client-read: {what} read other bytes than head (sum {got:x} != {expect:x})");
    }

    /// <summary>The sum of head's bytes, read with read() (no mapping involved).</summary>
    private static ulong Sum(string path, long bytes)
    {
        var buf = new byte[1 << 20];
        using var f = File.OpenHandle(path);
        var words = new ulong[buf.Length / 8];
        ulong s = 0;
        for (long off = 0; off < bytes; off += buf.Length)
        {
            var n = RandomAccess.Read(f, buf, off);
            if (n != buf.Length)
                throw new CommandException($"bench client-read: short read of {path} at {off}");
            Buffer.BlockCopy(buf, 0, words, 0, n);
            foreach (var w in words)
                s += w;
        }
        return s;
    }

    /// <summary>Wrapping sum of the 64-bit words of [addr, addr+bytes): reads every byte (memory bound).
    /// Also the figures test's (ClientFigures) read loop.</summary>
    internal static unsafe ulong Sum(nint addr, long bytes)
    {
        var acc = System.Numerics.Vector<ulong>.Zero;
        var p = (byte*)addr;
        var step = System.Numerics.Vector<byte>.Count;
        for (long i = 0; i < bytes; i += step)
            acc += System.Runtime.CompilerServices.Unsafe.ReadUnaligned<System.Numerics.Vector<ulong>>(p + i);
        return System.Numerics.Vector.Sum(acc);
    }

    /// <summary>Drops the page cache (root; the FUSE file's pages too). False if not permitted.
    /// Also the figures test's (ClientFigures).</summary>
    internal static bool DropCaches()
    {
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
