// The pin path's native threads ask the kernel for short time slices (vm_request_short_slice,
// wcfs_virtmem.h): checked in /proc, where the kernel shows a thread's slice (se.slice, ns).
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Virtmem;

public sealed class PinPathSliceTests
{
    /// <summary>se.slice of a thread's sched file (<paramref name="sched"/>), in ns.</summary>
    private static long Slice(string sched)
    {
        var line = File.ReadLines(sched).FirstOrDefault(l => l.StartsWith("se.slice", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("this kernel shows no se.slice (Linux < 6.6)");
        return long.Parse(line.Split(':')[1].Trim().Split('.')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void The_mmap_actor_thread_runs_with_a_100_microsecond_slice()
    {
        Assert.Equal(0, VirtmemNative.Init());
        var actor = Directory.GetDirectories("/proc/self/task")
            .Select(Path.GetFileName)
            .Single(t => Comm(t!) == "wcfs-mmap-actor");
        Assert.Equal(100_000, Slice($"/proc/self/task/{actor}/sched"));
    }

    /// <summary>A thread's name, or null for a thread that ended after the listing (other tests' threads come and go).</summary>
    private static string? Comm(string tid)
    {
        try
        {
            return File.ReadAllText($"/proc/self/task/{tid}/comm").Trim();
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or IOException)
        {
            return null;
        }
    }

    [Fact]
    public void A_thread_that_asks_gets_the_short_slice_and_one_that_does_not_keeps_the_default()
    {
        long asked = 0, other = 0;
        var rc = -1;
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                other = Slice("/proc/thread-self/sched");
                rc = VirtmemNative.RequestShortSlice();
                asked = Slice("/proc/thread-self/sched");
            }
            catch (Exception e)
            {
                error = e; // an exception on a thread of its own would end the test host
            }
        });
        t.Start();
        t.Join();
        Assert.Null(error);
        Assert.Equal(0, rc);
        Assert.Equal(100_000, asked);
        Assert.NotEqual(100_000, other);
    }
}
