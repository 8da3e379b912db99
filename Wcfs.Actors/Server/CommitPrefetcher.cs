// CommitPrefetcher - after a commit moved head/at, asks the kernel to read the blocks it changed
// (readahead(2) on head/bigfile/<oid> through the server's own mount), so that the next readers
// find them in the shared page cache (wcfs.server.prefetch-committed).
//
// Why: a commit invalidates the changed blocks of head/ files; the first process that mapped them
// afterwards took every page through FUSE from storage, while its peers waited on the same pages.
// With LMDB, the writer's pages are the readers' cache. Measured with `wcfs demo` (1 GiB, 4 workers
// right after the fill): workers read 4 GiB together at 1.6–2.1 GB/s from a cold head/, 3.4–3.6 GB/s
// after one pass over the file (docs/NOTES.md "Prefetch of committed blocks").
//
// The reads are ordinary FUSE reads of head/: they serve DataAt under a ReadGeneration like any
// other, pin the watchers that must not see the new data (WatchRegistry.PinsForRead) before the
// data reaches the cache, and a later commit's invalidation waits for them (HeadActor step 2).
// Nothing about isolation is new here; the prefetch only moves the first read earlier.
//
// But a prefetch must not cause pins of its own: right after a commit, the committer's watch is
// still at its old revision until it resyncs, and pinning its just-written blocks back and forth
// slowed the demo's fill by 30 % (758 pins instead of 42). So a block is read only when a read of
// it would wait for no pin (WatchRegistry.WouldWaitForPins, under Head.Lock); the others stay
// pending and are checked again after every watch change (a resync, a closed link: Retry) and every
// commit; a pending block that changed again is dropped (the newer commit brings it). A reader at an
// older snapshot keeps the blocks changed after it pending until its own reads pinned them.
//
// Only files the kernel knows (looked up: in the commit's changed list) and only the blocks a
// commit changed are read. readahead(2) queues the reads (at most the mount's readahead per call)
// and returns; it waits only when the kernel's queue of background FUSE requests is full. One
// thread, fed by HeadActor; at rest it waits on its queue (no timer). It opens a file for each round
// and closes it at once, so the server's own descriptors never hold the mount busy for an unmount.
using System.Collections.Concurrent;
using Serilog;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

/// <summary>Reads committed blocks into the kernel cache of head/ (see the file comment).</summary>
internal sealed class CommitPrefetcher : IDisposable
{
    /// <summary>The blocks of one file a commit (at Rev) changed.</summary>
    public readonly record struct Changed(HeadFile File, long[] Blocks, Tid Rev);

    private static readonly IReadOnlyList<Changed> RetryMarker = [];

    private readonly string _headBigfile;
    private readonly long _step;
    private readonly WcfsFileSystem _fs;
    private readonly BlockingCollection<IReadOnlyList<Changed>> _queue = new();
    private readonly Dictionary<(HeadFile File, long Blk), Tid> _pending = []; // the prefetch thread's own
    private readonly Thread _thread;
    private int _retryQueued;

    /// <param name="mountpoint">The server's mountpoint.</param>
    /// <param name="readahead">The mount's readahead (wcfs.server.readahead): the most one readahead(2) reads.</param>
    /// <param name="fs">The file system whose head and watches decide what may be read.</param>
    public CommitPrefetcher(string mountpoint, long readahead, WcfsFileSystem fs)
    {
        _headBigfile = Path.Combine(mountpoint, "head", "bigfile");
        _step = Math.Max(readahead, 4096);
        _fs = fs;
        _thread = new Thread(Run) { Name = "wcfs-prefetch", IsBackground = true };
        _thread.Start();
    }

    /// <summary>Queues the blocks of one commit (HeadActor, after head/at moved).</summary>
    public void Post(IReadOnlyList<Changed> changed)
    {
        if (changed.Count > 0 && !_queue.IsAddingCompleted)
            _queue.TryAdd(changed);
    }

    /// <summary>A watch moved or a link closed (HeadActor): pending blocks may be readable now.</summary>
    public void Retry()
    {
        if (Interlocked.Exchange(ref _retryQueued, 1) == 0 && !_queue.IsAddingCompleted)
            _queue.TryAdd(RetryMarker);
    }

    private void Run()
    {
        try
        {
            foreach (var batch in _queue.GetConsumingEnumerable())
            {
                if (ReferenceEquals(batch, RetryMarker))
                    Volatile.Write(ref _retryQueued, 0);
                foreach (var c in batch)
                    foreach (var b in c.Blocks)
                        _pending[(c.File, b)] = c.Rev;
                if (_pending.Count > 0)
                    ReadReady();
            }
        }
        catch (ObjectDisposedException)
        {
            // disposed while taking: done
        }
    }

    /// <summary>Takes the pending blocks a read would not have to pin for, and reads them.</summary>
    private void ReadReady()
    {
        var ready = new Dictionary<HeadFile, List<long>>();
        lock (_fs.Head.Lock)
        {
            foreach (var ((file, blk), rev) in _pending)
            {
                if (file.LastChange(blk) != rev)
                    _pending.Remove((file, blk)); // changed again: that commit's batch has it
                else if (!_fs.Watches.WouldWaitForPins(file, blk, blk))
                {
                    _pending.Remove((file, blk));
                    if (!ready.TryGetValue(file, out var l))
                        ready[file] = l = [];
                    l.Add(blk);
                }
            }
        }
        foreach (var (file, blocks) in ready)
            Read(file, [.. blocks]);
    }

    private void Read(HeadFile f, long[] blocks)
    {
        // The server reads its own mount: system calls of a managed thread (preemptive for the GC),
        // served by the FUSE threads; never a page fault here (ARCHITECTURE.md fact 1).
        var fd = Libc.OpenAtReadOnly(-100 /* AT_FDCWD */, Path.Combine(_headBigfile, f.Oid.ToString()));
        if (fd < 0)
        {
            Log.Debug("prefetch of {File}: open failed, errno {Errno}", f.Oid, Libc.Errno());
            return;
        }
        try
        {
            // readahead(2) stops at the size the kernel knows; the commit's invalidation dropped the
            // cached attributes, so this fstat asks the server for the size that includes the commit.
            var size = Libc.FileSize(fd);
            foreach (var (start, count) in HeadActor.Ranges(blocks))
            {
                // One call reads at most the mount's readahead (the kernel caps it there).
                for (long off = start * f.BlockSize, end = Math.Min((start + count) * f.BlockSize, size); off < end && !_queue.IsAddingCompleted; off += _step)
                {
                    _ = Libc.Readahead(fd, off, Math.Min(_step, end - off)); // a failure only leaves pages for the readers
                }
            }
        }
        finally
        {
            Libc.Close(fd);
        }
    }

    /// <summary>Stops taking work and waits (bounded) for the round in progress; before the unmount.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        if (!_thread.Join(TimeSpan.FromSeconds(5)))
            Log.Warning("the prefetch thread did not stop within 5 s");
        else
            _queue.Dispose();
    }
}
