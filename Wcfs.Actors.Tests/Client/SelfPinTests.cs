// Self-pin and GC stress (ARCHITECTURE.md fact 1, PROTOCOL.md §4.4): a thread of this very process
// faults on a block whose read needs this process's own pin; the native pinner serves it while the
// faulting thread waits, so the fault resolves to the old data — and a GC running all the while
// (which cannot finish while a managed thread waits in a fault) never deadlocks against it.
using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Xunit;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class SelfPinTests
{
    [Fact]
    public async Task A_thread_faulting_on_a_block_that_needs_this_process_own_pin_gets_the_old_data()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at1 = await w.CommitAsync(f, (0, "old"));
        await using var conn = await w.Client.ConnectAsync(at1);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, 1);
        var pins = Inbox.Create(w.Client.System);
        w.Client.System.ActorSelection(conn.Actor.Path / "pinner").Tell(new PinnerProtocol.Subscribe(pins.Receiver));
        Assert.Equal("old", Text(m, 0)); // block 0 now in the shared page cache, from head

        await w.CommitAsync(f, (0, "new")); // head/bigfile block 0 invalidated
        var read = await Task.Factory.StartNew(() => Text(m, 0), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            .WaitAsync(ServerProcess.Scaled(30));
        Assert.Equal("old", read);
        var pin = Assert.IsType<PinnerProtocol.PinObserved>(await pins.ReceiveAsync(ServerProcess.Scaled(10)));
        Assert.Equal((f, 0L, (Tid?)at1, true), (pin.File, pin.Block.Value, pin.Rev, pin.Acked));
        ExpectPinned(fh, (0, at1));
    }

    [Fact]
    public async Task Gc_running_continuously_while_threads_fault_on_self_pinned_blocks_never_deadlocks()
    {
        const int blocks = 64, readers = 4, rounds = 5;
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at = await w.CommitAsync(f, [.. Enumerable.Range(0, blocks).Select(b => ((long)b, (string?)$"r0-{b}"))]);
        await using var conn = await w.Client.ConnectAsync(at);
        await using var fh = await conn.OpenAsync(f);
        using var m = await fh.MmapAsync(0, blocks);
        var collections = 0L;
        var sw = Stopwatch.StartNew();
        for (var round = 1; round <= rounds; round++)
        {
            var expect = Enumerable.Range(0, blocks).Select(b => Text(m, b)).ToArray(); // as of conn.At, cached
            Assert.Equal($"r{round - 1}-7", expect[7]);
            await w.CommitAsync(f, [.. Enumerable.Range(0, blocks).Select(b => ((long)b, (string?)$"r{round}-{b}"))]);

            using var stop = new CancellationTokenSource();
            var gc = new Thread(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    GC.Collect();
                    Interlocked.Increment(ref collections);
                    Thread.Sleep(1); // why: back-to-back forced GCs can starve the other threads on 2 cores (a resumed thread may not run before the next suspension); 1 ms apart a GC still runs nearly all the time
                }
            }) { IsBackground = true, Name = "gc-stress" };
            gc.Start();
            var errors = new List<string>();
            var threads = Enumerable.Range(0, readers).Select(r => new Thread(() =>
            {
                for (var i = 0; i < blocks; i++)
                {
                    var b = (i * 7 + r * 13) % blocks; // readers race on different orders
                    var got = Encoding.UTF8.GetString(m.Block(b)).TrimEnd('\0');
                    if (got != expect[b])
                        lock (errors) errors.Add($"block {b}: {got} != {expect[b]}");
                }
            }) { IsBackground = true, Name = $"reader-{r}" }).ToList();
            try
            {
                threads.ForEach(t => t.Start());
                var deadline = DateTime.UtcNow + ServerProcess.Scaled(60);
                foreach (var t in threads)
                    Assert.True(t.Join(Max(deadline - DateTime.UtcNow)), $"round {round}: a reader did not finish within 60s (deadlock between GC and a self-pin fault?)");
            }
            finally
            {
                stop.Cancel(); // also when a reader hung: the GC loop must not outlive the test
            }
            Assert.True(gc.Join(ServerProcess.Scaled(30)), $"round {round}: GC.Collect did not return within 30s");
            Assert.Empty(errors);
            Assert.Equal(blocks, fh.Pinned.Count); // every block was self-pinned to conn.At

            await conn.ResyncAsync(w.Server.HeadAt()); // unpin: the next round faults into head again
            Assert.Empty(fh.Pinned);
        }
        Assert.True(collections > rounds, $"only {collections} collections ran");
        Console.WriteLine($"GC stress: {rounds} rounds x {readers} readers x {blocks} self-pinned blocks, {collections} collections, {sw.Elapsed.TotalSeconds:0.0}s");
    }

    private static TimeSpan Max(TimeSpan t) => t > TimeSpan.Zero ? t : TimeSpan.Zero;
}
