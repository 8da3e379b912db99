// Figures of issue 6 over a real WCFS server child process and real SQLite:
//   1. first-write fault on an overlay VMA over WCFS (one fault copies a 2 MiB page into the
//      overlay) vs the kernel's MAP_PRIVATE copy-on-write faults over the same 2 MiB (512 faults of
//      4 KiB), on the WCFS head file itself and on a regular file of /tmp, page cache warm in all;
//   2. a reader connection's read throughput over its VMA (abort after each pass: it follows head)
//      alone, and while a writer connection commits one 2 MiB block every 100 ms; every pass must
//      see one committed state whole (each block one fill byte, the blocks together the state after
//      some commit of the writer): a torn block or a mix of states fails the test.
// CI runs a small size as a smoke test (the figures are printed; the asserts check what was read);
// WCFS_BENCH=1 runs the sizes quoted in docs/NOTES.md "Db".
using System.Diagnostics;
using System.Runtime.InteropServices;
using Wcfs.Native.Interop;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Wcfs.Actors.Virtmem;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Db;

public sealed partial class WcfsFaultFigures(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Block = 2 << 20;
    private const int OsPage = 4096;
    private static readonly bool Full = Environment.GetEnvironmentVariable("WCFS_BENCH") == "1";
    private static readonly int Blocks = Full ? 64 : 8;
    private static readonly TimeSpan ReadFor = TimeSpan.FromSeconds(Full ? 5 : 1);
    private ServerProcess? _server;
    private Database? _db;

    private ServerProcess Server => _server!;

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync();
        _db = await Database.OpenAsync(Server.Url, new DatabaseOptions
        {
            Wcfs = new WcfsClientOptions { Mountpoint = Server.Mountpoint, Autostart = false },
            Config = Akka.Configuration.ConfigurationFactory.ParseString($"wcfs.mount-root = \"{Server.Dir}\""),
        });
    }

    public async Task DisposeAsync()
    {
        try
        {
            if (_db is not null)
                await _db.DisposeAsync();
        }
        finally
        {
            if (_server is not null)
                await _server.DisposeAsync();
        }
    }

    /// <summary>A committed file "f" of <see cref="Blocks"/> blocks, every byte of block b = b + 1.</summary>
    private async Task<ZBigFile> FileAsync()
    {
        var c = await _db!.OpenConnectionAsync();
        var f = ZBigFile.Create(c, Block);
        c.Root["f"] = f;
        await c.CommitAsync();
        var h = await f.OpenAsync();
        using (var v = await h.MmapAsync(0, (long)Blocks * Block / h.PageSize))
        {
            for (var b = 0; b < Blocks; b++)
                v.GetSpan((long)b * Block, Block).Fill((byte)(b + 1));
            await c.CommitAsync();
        }
        await c.DisposeAsync();
        return f;
    }

    [Fact]
    public async Task First_write_faults_on_an_overlay_vma_over_wcfs_are_measured_against_kernel_private_cow_faults()
    {
        var f = await FileAsync();
        var c = await _db!.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, (long)Blocks * Block / h.PageSize);
        long sum = 0;
        for (long off = 0; off < v.Length; off += OsPage)
            sum += v.Span[(int)off]; // read faults first: base mapped, page cache warm
        var sw = Stopwatch.StartNew();
        for (long b = 0; b < Blocks; b++)
            v.GetSpan(b * Block, 1)[0] = 0xAA; // one first-write fault per 2 MiB page
        var overlay = sw.Elapsed.TotalMicroseconds / Blocks;
        Assert.Equal(Blocks, h.DirtyPageCount);
        Assert.Equal(2, v.Span[Block + 1]);     // the rest of the page was copied from the base
        await c.AbortAsync();

        var head = KernelCowMicros(Server.HeadPath(f.Oid));
        var tmp = Path.Combine(Server.Dir, "plain.bin");
        await File.WriteAllBytesAsync(tmp, new byte[(long)Blocks * Block]);
        var plain = KernelCowMicros(tmp);

        output.WriteLine($"{Blocks} pages of 2 MiB, read-faulted first (sum {sum})");
        output.WriteLine($"overlay VMA over WCFS, first write per 2 MiB page : {overlay,8:F0} us");
        output.WriteLine($"kernel MAP_PRIVATE COW of WCFS head, per 2 MiB    : {head,8:F0} us  (overlay {overlay / head:F2}x)");
        output.WriteLine($"kernel MAP_PRIVATE COW of a /tmp file, per 2 MiB  : {plain,8:F0} us  (overlay {overlay / plain:F2}x)");
        await c.DisposeAsync();
    }

    /// <summary>MAP_PRIVATE of the file, every 4 KiB page read-faulted, then one write per 4 KiB page
    /// (a kernel COW fault each): microseconds per 2 MiB.</summary>
    private static unsafe double KernelCowMicros(string path)
    {
        using var fd = File.OpenHandle(path);
        var len = (nuint)((long)Blocks * Block);
        var p = Libc.Mmap(0, len, 3 /*PROT_READ|PROT_WRITE*/, 2 /*MAP_PRIVATE*/, (int)fd.DangerousGetHandle(), 0);
        if (p == -1)
            throw new IOException($"mmap {path}: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var b = (byte*)p;
            long sum = 0;
            for (nuint off = 0; off < len; off += OsPage)
                sum += b[off];
            var sw = Stopwatch.StartNew();
            for (nuint off = 0; off < len; off += OsPage)
                b[off] = (byte)(sum + 1);
            return sw.Elapsed.TotalMicroseconds / Blocks;
        }
        finally
        {
            Libc.Munmap(p, len);
        }
    }

    [Fact]
    public async Task A_reader_sees_only_whole_committed_states_while_a_writer_commits_every_100_ms_and_its_throughput_is_measured()
    {
        await FileAsync();
        var r = await _db!.OpenConnectionAsync();
        var hr = await r.Root.Get<ZBigFile>("f").OpenAsync();
        using var vr = await hr.MmapAsync(0, (long)Blocks * Block / hr.PageSize);

        var initial = State(Enumerable.Range(0, Blocks).Select(b => (byte)(b + 1)).ToArray());
        var (alone, _, seenAlone) = await ReadPassesAsync(r, vr);
        Assert.Equal(initial, Assert.Single(seenAlone));

        var w = await _db.OpenConnectionAsync();
        var hw = await w.Root.Get<ZBigFile>("f").OpenAsync();
        using var vw = await hw.MmapAsync(0, (long)Blocks * Block / hw.PageSize);
        using var stop = new CancellationTokenSource();
        var commits = 0;
        var committed = new HashSet<string> { initial }; // every state a reader may see
        var writer = Task.Run(async () =>
        {
            var values = Enumerable.Range(0, Blocks).Select(b => (byte)(b + 1)).ToArray();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var value = (byte)(0x40 + i % 64);
                vw.GetSpan((long)(i % Blocks) * Block, Block).Fill(value);
                values[i % Blocks] = value;
                lock (committed)
                    committed.Add(State(values)); // before the commit: a reader may see it right after
                await w.CommitAsync();
                commits++;
                await Task.Delay(100); // why: the workload is "a writer commits every 100 ms"
            }
        });
        var (busy, passes, seen) = await ReadPassesAsync(r, vr);
        stop.Cancel();
        await writer.WaitAsync(TestTimeouts.Default);

        Assert.True(commits > 0, "the writer never committed");
        foreach (var state in seen)
            Assert.True(committed.Contains(state), $"the reader saw blocks [{state}], which is no state the writer committed");
        output.WriteLine($"reader over {Blocks * 2} MiB, abort (follow head) after each pass, {ReadFor.TotalSeconds:F0} s each");
        output.WriteLine($"alone                          : {alone,8:F0} MB/s");
        output.WriteLine($"writer commits 2 MiB every 100 ms: {busy,8:F0} MB/s ({commits} commits during {passes} passes, {seen.Count} distinct states seen)");
        await w.DisposeAsync();
        await r.DisposeAsync();
    }

    /// <summary>Reads the whole VMA repeatedly for <see cref="ReadFor"/>, aborting after each pass:
    /// the throughput and the states seen (each block must be one fill byte: checked on every byte).</summary>
    private static async Task<(double MBps, int Passes, HashSet<string> Seen)> ReadPassesAsync(Connection r, Vma v)
    {
        var sw = Stopwatch.StartNew();
        long bytes = 0;
        var passes = 0;
        var seen = new HashSet<string>();
        var values = new byte[Blocks];
        while (sw.Elapsed < ReadFor)
        {
            for (var b = 0; b < Blocks; b++)
            {
                var block = v.GetSpan((long)b * Block, Block);
                values[b] = block[0];
                var torn = block.IndexOfAnyExcept(values[b]);
                Assert.True(torn < 0, $"pass {passes}: block {b} is torn: byte 0 is {values[b]:x2}, byte {torn} is {(torn < 0 ? 0 : block[torn]):x2}");
            }
            seen.Add(State(values));
            bytes += v.Length;
            passes++;
            await r.AbortAsync();
        }
        return (bytes / sw.Elapsed.TotalSeconds / 1e6, passes, seen);
    }

    /// <summary>A state of the file: the fill byte of each block.</summary>
    private static string State(byte[] values) => Convert.ToHexString(values);
}
