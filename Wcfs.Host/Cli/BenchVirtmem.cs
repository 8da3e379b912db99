// BenchVirtmem - the virtmem cases of `wcfs bench` (issue 3 "Performance"):
//   fault     first write to every page of an overlay VMA over a tmpfs file (time per page), 4 KiB
//             and 2 MiB pages, vs the kernel's copy-on-write fault: the first write to each 4 KiB page
//             of a MAP_PRIVATE mapping of the same file (per 2 MiB: the 512 faults that cover it).
//   writeout  writeout (STORE+MARKSTORED) of a fully dirty 2 MiB-page handle through VirtmemActor to
//             a no-op storeblk (GB/s) vs memcpy of the same bytes out of memory (what a storeblk that
//             copies the page would add at least). Median of 3 reps after a warm-up rep.
// Both mappings are pre-read before timing, so both sides start from mapped page-cache pages.
// Each fault figure is given as wall time and as process CPU time (all threads: the faulting one and
// the native mmap actor); CPU time is the steadier figure on a loaded machine.
// --quick: 16 MiB instead of 256 MiB.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Microsoft.Win32.SafeHandles;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;

namespace Wcfs.Host.Cli;

internal static partial class BenchVirtmemData
{
    public const int Small = 4096, Huge = 2 << 20;

    public static SafeFileHandle TmpfsFile(long size)
    {
        var path = Path.Combine("/dev/shm", $"wcfs-bench-vm-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var h = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.DeleteOnClose);
        var chunk = new byte[1 << 20];
        new Random(1).NextBytes(chunk);
        for (long off = 0; off < size; off += chunk.Length)
            RandomAccess.Write(h, chunk, off);
        return h;
    }

    /// <summary>
    /// One line on the kernel's 2 MiB huge pages, which virtmem's 2 MiB pages take when offered
    /// (wcfs.virtmem.huge-pages = on): the figures of fault, writeout and lmdb differ by ~10x with them.
    /// <paramref name="label"/> starts the line (the bench's log and the demo's summary align differently).
    /// </summary>
    public static string HugePagesLine(string label = "  huge pages: ")
    {
        const string dir = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
        string R(string n) => File.Exists(dir + n) ? File.ReadAllText(dir + n).Trim() : "?";
        var offered = R("free_hugepages") is not ("0" or "?") || R("nr_overcommit_hugepages") is not ("0" or "?");
        return $"{label}{(offered ? "offered" : "none offered")} (vm.nr_hugepages {R("nr_hugepages")}, free {R("free_hugepages")}, " +
            $"vm.nr_overcommit_hugepages {R("nr_overcommit_hugepages")}){(offered ? "" : ": virtmem's 2 MiB pages use ordinary memory")}";
    }

    public static unsafe long PreRead(byte* p, long size)
    {
        long sum = 0;
        for (long off = 0; off < size; off += Small)
            sum += p[off];
        return sum;
    }

}

internal sealed class BenchVirtmemFault : IBenchCase
{
    public string Name => "fault";
    public string Description => "first-write fault per page (overlay, 4 KiB and 2 MiB pages) vs kernel MAP_PRIVATE copy-on-write";

    public Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var size = ctx.Quick ? 16L << 20 : 256L << 20;
        ctx.Log.WriteLine(BenchVirtmemData.HugePagesLine());
        using var data = BenchVirtmemData.TmpfsFile(size);
        var kernel = KernelCow(data, size);
        var small = Overlay(data, size, BenchVirtmemData.Small);
        var huge = Overlay(data, size, BenchVirtmemData.Huge);
        IReadOnlyList<BenchResult> r =
        [
            new("fault", "first write, 4 KiB page, wall", "us/page", small.Wall * 1e6, kernel.Wall * 1e6, false),
            new("fault", "first write, 4 KiB page, CPU", "us/page", small.Cpu * 1e6, kernel.Cpu * 1e6, false),
            new("fault", "first write, 2 MiB page, wall", "us/page", huge.Wall * 1e6, kernel.Wall * 512 * 1e6, false),
            new("fault", "first write, 2 MiB page, CPU", "us/page", huge.Cpu * 1e6, kernel.Cpu * 512 * 1e6, false),
        ];
        return Task.FromResult(r);
    }

    /// <summary>Wall and process CPU seconds of <paramref name="body"/>, divided by <paramref name="n"/>.</summary>
    private static (double Wall, double Cpu) Per(long n, Action body)
    {
        var proc = Process.GetCurrentProcess();
        proc.Refresh();
        var cpu0 = proc.TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        body();
        var wall = sw.Elapsed.TotalSeconds;
        proc.Refresh();
        return (wall / n, (proc.TotalProcessorTime - cpu0).TotalSeconds / n);
    }

    /// <summary>Seconds per 4 KiB copy-on-write fault.</summary>
    private static unsafe (double Wall, double Cpu) KernelCow(SafeFileHandle data, long size)
    {
        var p = (byte*)Libc.Mmap(0, (nuint)size, 3 /* PROT_READ|WRITE */, 2 /* MAP_PRIVATE */, (int)data.DangerousGetHandle(), 0);
        if ((nint)p == -1)
            throw new InvalidOperationException($"mmap of the tmpfs file failed: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            GC.KeepAlive(BenchVirtmemData.PreRead(p, size));
            return Per(size / BenchVirtmemData.Small, () =>
            {
                for (long off = 0; off < size; off += BenchVirtmemData.Small)
                    p[off] = 1;
            });
        }
        finally
        {
            Libc.Munmap((nint)p, (nuint)size);
        }
    }

    /// <summary>Seconds per first write of an overlay page of <paramref name="pageSize"/> (= block size).</summary>
    private static unsafe (double Wall, double Cpu) Overlay(SafeFileHandle data, long size, int pageSize)
    {
        VirtmemErrors.Check(VirtmemNative.Init(), "virtmem init");
        using var ram = VmRamHandle.Create(pageSize, size / pageSize, hugePages: true); // as wcfs.virtmem.huge-pages = on
        using var file = VmFileHandle.CreateFileBase(pageSize, data);
        // why a warm-up pass (dirtied, then dropped with its handle): a freshly reserved huge page pool
        // is memory the hypervisor has not backed yet (its first touch cost ~3.5 ms per 2 MiB here); the
        // kernel's copy-on-write baseline takes pages the machine has used before
        using (var warmFh = VmFileHHandle.Open(file, ram))
        using (var warm = VmaHandle.Map(warmFh, 0, size / pageSize))
            for (long off = 0; off < size; off += pageSize)
                ((byte*)warm.Address)[off] = 1;
        using var fh = VmFileHHandle.Open(file, ram);
        using var vma = VmaHandle.Map(fh, 0, size / pageSize);
        var p = (byte*)vma.Address;
        GC.KeepAlive(BenchVirtmemData.PreRead(p, size));
        return Per(size / pageSize, () =>
        {
            for (long off = 0; off < size; off += pageSize)
                p[off] = 1;
        });
    }
}

internal sealed class BenchVirtmemWriteout : IBenchCase
{
    public string Name => "writeout";
    public string Description => "writeout of dirty 2 MiB pages to a no-op storeblk vs memcpy of the same bytes";

    private const int Reps = 3;

    private sealed class NoopStore : IBlockStore
    {
        public long Sum;

        public void StoreBlock(BlockNumber blk, long offsetInBlock, ReadOnlySpan<byte> data) => Sum += data[^1];
    }

    public async Task<IReadOnlyList<BenchResult>> RunAsync(BenchContext ctx, CancellationToken ct)
    {
        var size = ctx.Quick ? 16L << 20 : 256L << 20;
        ctx.Log.WriteLine(BenchVirtmemData.HugePagesLine());
        using var data = BenchVirtmemData.TmpfsFile(size);
        var settings = new VirtmemProtocol.Settings(BenchVirtmemData.Huge, size, TimeSpan.FromMinutes(5));
        // why quiet: stdout carries only the table (CoordinatedShutdown logs an INFO line there on dispose)
        using var sys = DemoCommand.QuietSystem(Akka.Configuration.Config.Empty);
        _ = Wcfs.Actors.Hosting.WcfsRuntime.Get(sys); // its reference.conf declares the virtmem dispatcher
        var virtmem = sys.ActorOf(VirtmemProtocol.Props(settings), "virtmem");
        using var file = BigFile.OverPlainFile(data, BenchVirtmemData.Huge, new NoopStore());
        var fh = await VirtmemProtocol.OpenAsync(virtmem, file, settings.AskTimeout);
        // Rep 0 warms up (the JIT compiles the writeout path: ~7 ms of a 45 ms single shot); then
        // Reps measured ones, each over freshly dirtied pages of a new mapping.
        var ours = new List<double>();
        for (var rep = 0; rep <= Reps; rep++)
        {
            using var vma = await fh.MmapAsync(0, size / BenchVirtmemData.Huge);
            for (long off = 0; off < size; off += int.MaxValue / 2)
                vma.GetSpan(off, (int)Math.Min(int.MaxValue / 2, size - off)).Fill((byte)(7 + rep));
            var sw = Stopwatch.StartNew();
            await fh.WriteoutAsync(WriteoutFlags.Store | WriteoutFlags.MarkStored);
            if (rep > 0)
                ours.Add(size / 1e9 / sw.Elapsed.TotalSeconds);
        }
        await fh.DisposeAsync();
        var src = new byte[size];
        src.AsSpan().Fill(7);
        var dst = new byte[BenchVirtmemData.Huge];
        var baseline = new List<double>();
        for (var rep = 0; rep <= Reps; rep++)
        {
            var sw2 = Stopwatch.StartNew();
            for (long off = 0; off < size; off += dst.Length)
                src.AsSpan((int)off, dst.Length).CopyTo(dst);
            if (rep > 0)
                baseline.Add(size / 1e9 / sw2.Elapsed.TotalSeconds);
        }
        await sys.Terminate();
        return [BenchResult.FromReps("writeout", "STORE+MARKSTORED, 2 MiB pages", "GB/s", ours, baseline, true) with { Goal = 0.7 }];
    }
}
