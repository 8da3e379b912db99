// ReadAnswerers - the threads that answer reads of head/ and @rev/ files, so that the FUSE threads
// (which take every request of the mount: reads, the watch links' reads and writes, lookups) stay
// light.
//
// Why: under 4 streaming readers the pin round trip was p50 238–275 µs, p99 6.8–7.4 ms, and the time
// was lost inside microsecond-long stretches of the FUSE threads that handle the link (taking an ack,
// replying to its write, registering the client's next read): p90 2.1 ms between taking Head.Lock and
// telling the link, p99 4.3 ms in fuse_reply_write. Those threads also carried the readers' bulk
// reads, and under EEVDF a thread that ran more than its share is not eligible when it wakes or is
// preempted; a short time slice does not change that. With the bulk work on threads of their own,
// the FUSE threads sleep between short requests and win the CPU when an ack comes in
// (docs/NOTES.md "Data path, fifth pass").
//
// Two groups, each a queue and its threads, at rest blocked on the queue (no timer):
//   bulk    every read that needs no pin: 2 per core (4 to 32), at nice 5 (raising nice needs no
//           privilege), so that within the server the FUSE and link threads come first.
//   pinned  the reads that waited for a pin (posted by the thread that completed the pin): 2
//           threads at normal priority, so that a pinned read does not queue behind bulk reads and
//           the FUSE thread that took the ack does not carry the answer.
// The answer itself (block cache, storage, fuse_reply, the ReadGeneration's exit) is the caller's
// callback; a job is a struct, so posting allocates nothing per read.
using System.Collections.Concurrent;
using Serilog;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

/// <summary>The read-answering threads of a mount (see the file comment).</summary>
internal sealed class ReadAnswerers<TJob> : IDisposable where TJob : struct
{
    /// <summary>Nice value of the bulk threads.</summary>
    public const int BulkNice = 5;

    private readonly Action<TJob> _answer;
    private readonly BlockingCollection<TJob> _bulk = new();
    private readonly BlockingCollection<TJob> _pinned = new();
    private readonly List<Thread> _threads = [];

    /// <param name="answer">Answers one read (never throws: it replies with an error itself).</param>
    public ReadAnswerers(Action<TJob> answer)
    {
        _answer = answer;
        var bulk = Math.Clamp(2 * Environment.ProcessorCount, 4, 32);
        for (var i = 0; i < bulk; i++)
            Start(_bulk, "wcfs-read-" + i, BulkNice);
        for (var i = 0; i < 2; i++)
            Start(_pinned, "wcfs-pinread-" + i, 0);
    }

    private void Start(BlockingCollection<TJob> queue, string name, int nice)
    {
        var t = new Thread(() => Run(queue, nice)) { IsBackground = true, Name = name };
        _threads.Add(t);
        t.Start();
    }

    private void Run(BlockingCollection<TJob> queue, int nice)
    {
        if (nice != 0 && Libc.LowerThreadPriority(nice) != 0)
            Log.Debug("read thread: setpriority failed, errno {Errno}; it runs at normal priority", Libc.LastPInvokeErrno());
        try
        {
            foreach (var job in queue.GetConsumingEnumerable())
                _answer(job);
        }
        catch (ObjectDisposedException)
        {
            // disposed while taking: done
        }
    }

    /// <summary>Queues a read that needed no pin.</summary>
    public void Post(in TJob job) => Add(_bulk, job);

    /// <summary>Queues a read that waited for a pin (from the thread that completed it).</summary>
    public void PostPinned(in TJob job) => Add(_pinned, job);

    private void Add(BlockingCollection<TJob> queue, in TJob job)
    {
        try
        {
            queue.Add(job);
        }
        catch (InvalidOperationException)
        {
            _answer(job); // stopping (the mount is going away): answer on the caller's thread
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    /// <summary>Stops taking reads and waits (bounded) for the threads; after the FUSE loop ended.</summary>
    public void Dispose()
    {
        _bulk.CompleteAdding();
        _pinned.CompleteAdding();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5); // for all of them together
        foreach (var t in _threads)
            if (!t.Join(Max(TimeSpan.Zero, deadline - DateTime.UtcNow)))
                Log.Warning("read thread {Name} did not stop within 5 s", t.Name);
    }
}
