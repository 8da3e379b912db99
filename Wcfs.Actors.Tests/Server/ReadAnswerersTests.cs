// ReadAnswerers: reads that need no pin are answered on the bulk threads at nice 5, reads that
// waited for a pin on the pinned threads at normal priority, nothing on the posting thread; after
// Dispose a late read is answered on the caller's thread (the mount is going away).
using System.Collections.Concurrent;
using Wcfs.Actors.Server;
using Xunit;

namespace Wcfs.Actors.Tests.Server;

public sealed class ReadAnswerersTests
{
    /// <summary>The calling thread's name and nice value (/proc/thread-self/stat, field 19).</summary>
    private static (string Name, int Nice) Me()
    {
        var stat = File.ReadAllText("/proc/thread-self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' '); // fields from 3 (state) on
        return (Thread.CurrentThread.Name ?? "", int.Parse(fields[19 - 3], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Bulk_reads_run_at_nice_5_and_pinned_reads_at_normal_priority_off_the_posting_thread()
    {
        var seen = new ConcurrentDictionary<int, (string Name, int Nice)>();
        using var all = new CountdownEvent(20);
        var answerers = new ReadAnswerers<int>(job =>
        {
            seen[job] = Me();
            if (job < 20)
                all.Signal();
        });
        try
        {
            for (var i = 0; i < 10; i++)
                answerers.Post(i);
            for (var i = 10; i < 20; i++)
                answerers.PostPinned(i);
            Assert.True(all.Wait(TimeSpan.FromSeconds(30)), $"answered {20 - all.CurrentCount} of 20 reads in 30 s");
        }
        finally
        {
            answerers.Dispose();
        }
        for (var i = 0; i < 10; i++)
        {
            Assert.StartsWith("wcfs-read-", seen[i].Name);
            Assert.Equal(ReadAnswerers<int>.BulkNice, seen[i].Nice);
        }
        for (var i = 10; i < 20; i++)
        {
            Assert.StartsWith("wcfs-pinread-", seen[i].Name);
            Assert.Equal(Me().Nice, seen[i].Nice); // the test thread's own: not lowered
        }

        // disposed: a late read is still answered, on the caller's thread
        answerers.Post(99);
        Assert.Equal(Thread.CurrentThread.Name ?? "", seen[99].Name);
    }
}
