using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Virtmem;

/// <summary>
/// Many threads take write faults on the same and on different pages while a "pinner" keeps
/// switching the base of every block between two files and remapping it (vm_pin), and another thread
/// loops GC.Collect(). Nothing may hang (bounded wait), no write may be lost, and a dirty page must be
/// a copy of exactly one base (never a stale or torn copy: the generation check).
/// WCFS_STRESS_ROUNDS raises the number of rounds (default 12).
/// </summary>
public class VirtmemConcurrencyTests(ITestOutputHelper output) : VirtmemTestKit(output)
{
    private const int Ps = 4096, Writers = 4, SlotBytes = 8;
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("WCFS_STRESS_ROUNDS"), out var r) ? r : 12;

    [Theory]
    [InlineData(1)] // page = block
    [InlineData(4)] // 4 pages per block: pins remap runs of clean pages around dirty ones
    public async Task Writes_racing_pins_and_a_looping_gc_are_never_lost_nor_stale(int pagesPerBlock)
    {
        const int pages = 64;
        var bs = (long)Ps * pagesPerBlock;
        var blocks = pages / pagesPerBlock;
        var baseA = TmpfsFile(pages * Ps, _ => (byte)'A');
        var baseB = TmpfsFile(pages * Ps, _ => (byte)'B');
        using var file = BigFile.OverPlainFile(baseA, bs);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(0, pages);
        var addr = vma.Address;
        var stop = 0;
        var writing = 0; // 1 while a round's writers run: a pin then races their write faults
        long pins = 0, racingPins = 0, gcs = 0;
        var gc = Start(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                _ = new byte[64 << 10];
                GC.Collect();
                gcs++;
                Thread.Sleep(1); // why: back-to-back forced GCs can starve the other threads on 2 cores (a resumed thread may not run before the next suspension); 1 ms apart a GC still runs nearly all the time
            }
        });
        var pinner = Start(() =>
        {
            var stayed = new byte[pagesPerBlock];
            ulong lastServed = 0;
            for (var i = 0; Volatile.Read(ref stop) == 0; i++)
            {
                // Pin again only after a write fault was served since the last pin: pins race the
                // faults but cannot starve them (a copy whose generation changed is redone; an
                // unbounded pin rate could redo it forever, a real pinner's rate is bounded by commits).
                VirtmemNative.Stats(out _, out var served, out _);
                if (served == lastServed)
                {
                    Thread.Yield();
                    continue;
                }
                lastServed = served;
                var blk = new BlockNumber(i % blocks);
                file.SetBlockBase(blk, (i / blocks) % 2 == 0 ? baseB : baseA);
                var racing = Volatile.Read(ref writing) == 1;
                fh.Pin(blk, stayed);
                pins++;
                if (racing && Volatile.Read(ref writing) == 1)
                    racingPins++; // the writers ran before and after this pin
                Thread.Yield(); // let writers reach the mmap actor's mailbox between pins (2-core CI)
            }
        });
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                var value = (byte)(round + 1);
                Volatile.Write(ref writing, 1);
                var writers = Enumerable.Range(0, Writers).Select(t => Start(() => WritePages(addr, pages, t, value))).ToArray();
                await Within(Task.WhenAll(writers), $"round {round}: the writers (a hang in a write fault?)");
                Volatile.Write(ref writing, 0);
                CheckPages(vma, pages, value, round);
                Assert.Equal(pages, fh.DirtyPageCount);
                await fh.DiscardAsync();
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            await Within(Task.WhenAll(gc, pinner), "the GC and pinner threads to stop");
        }
        VirtmemNative.Stats(out _, out var served, out var retries);
        Output.WriteLine($"{Rounds} rounds, {pins} pins ({racingPins} while writers ran), {gcs} GCs; faults served {served}, install retries (generation changed) {retries}");
        // The pinner is paced by served faults, so it can never outrun the writers; this proves it
        // did not shrink to no racing at all (each round serves >= 64 write faults, each allowing a pin).
        Assert.True(racingPins > 0, $"no pin ran while writers were faulting ({pins} pins in all): the test raced nothing");
    }

    [Fact]
    public async Task Classic_write_faults_from_many_threads_with_a_looping_gc_are_never_lost()
    {
        const int pages = 64;
        using var file = BigFile.Zero(Ps);
        var fh = Open(file, Ps);
        using var vma = fh.Mmap(0, pages);
        var stop = 0;
        var gc = Start(() =>
        {
            while (Volatile.Read(ref stop) == 0)
            {
                GC.Collect();
                Thread.Sleep(1); // why: back-to-back forced GCs can starve the other threads on 2 cores (a resumed thread may not run before the next suspension); 1 ms apart a GC still runs nearly all the time
            }
        });
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                var value = (byte)(round + 1);
                var writers = Enumerable.Range(0, Writers).Select(t => Start(() => WritePages(vma.Address, pages, t, value))).ToArray();
                await Within(Task.WhenAll(writers), $"round {round}: the writers (a hang in a write fault?)");
                var span = vma.Span;
                for (var pg = 0; pg < pages; pg++)
                    for (var t = 0; t < Writers; t++)
                        Assert.Equal(value, span[pg * Ps + t * SlotBytes]);
                await fh.DiscardAsync();
            }
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            await Within(gc, "the GC thread to stop");
        }
    }

    private static async Task Within(Task t, string what)
    {
        try
        {
            await t.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"waited {Timeout} for {what}");
        }
    }

    private static Task Start(Action a) => Task.Factory.StartNew(a, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Thread t writes its slot of every page (so all threads fault on the same pages) and
    /// checks each write at once.</summary>
    private static unsafe void WritePages(nint addr, int pages, int t, byte value)
    {
        var order = Enumerable.Range(0, pages).OrderBy(p => (p * 7 + t * 13) % pages).ToArray();
        foreach (var pg in order)
        {
            var p = (byte*)addr + (long)pg * Ps + t * SlotBytes;
            for (var k = 0; k < SlotBytes; k++)
                p[k] = value;
            for (var k = 0; k < SlotBytes; k++)
                if (p[k] != value)
                    throw new InvalidOperationException($"thread {t}: write to page {pg} lost at once");
        }
    }

    private static void CheckPages(Vma vma, int pages, byte value, int round)
    {
        var span = vma.Span;
        for (var pg = 0; pg < pages; pg++)
        {
            var page = span.Slice(pg * Ps, Ps);
            for (var t = 0; t < Writers; t++)
                Assert.True(page.Slice(t * SlotBytes, SlotBytes).IndexOfAnyExcept(value) < 0, $"round {round}: write of thread {t} to page {pg} lost");
            var rest = page[(Writers * SlotBytes)..];
            var b = rest[0];
            Assert.True(b is (byte)'A' or (byte)'B', $"round {round}: page {pg} holds {b}, not a base byte");
            Assert.True(rest.IndexOfAnyExcept(b) < 0, $"round {round}: page {pg} is a torn copy of two bases");
        }
    }
}
