// BlockCache - whole blocks of big files as of a revision, in native buffers reused from read to
// read, for the FUSE read path (docs/NOTES.md "Data path").
//
// Why: the kernel asks for at most 1 MiB per request while blocks are 2 MiB, and readahead sends
// several requests of one block at once; one storage read per block serves them all. A block lives
// in memory allocated once (NativeMemory, page aligned) and reused, so a read touches no fresh
// pages (a fresh 2 MiB byte[] per block cost a page fault per 4 KiB and a clear) and the FUSE reply
// gathers straight from the buffers (wfuse_reply_data), no copy into a reply buffer.
//
// Owns: the entries (key (oid, blk, at) → buffer), their reference counts, the LRU of unreferenced
// entries, the byte budget. Does not own: storage (IStorage.ReadBlock fills a buffer) nor which
// revision a read must see (the caller's at).
//
// Invariants:
//   (1) The data of (oid, blk, at) never changes (storage invariant (4)): an entry is never
//       invalidated, only evicted; a loaded entry's bytes are never written again.
//   (2) Single flight: at most one storage read per key is in flight; other readers of the same key
//       wait for it (only they: readers of other keys never wait on a load).
//   (3) A buffer is freed or reused only when no lease holds its entry (Refs == 0).
//   (4) Unreferenced entries beyond the budget are evicted, oldest use first; entries in use may
//       exceed the budget (bounded by the requests in flight) and are trimmed on release.
//
// Threading: any thread. One lock guards the map, the LRU and the counters; it is held for O(1)
// bookkeeping only, never during a storage read or a FUSE reply.
using System.Runtime.InteropServices;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Server;

internal sealed unsafe class BlockCache(IStorage storage, long budgetBytes) : IDisposable
{
    private readonly Dictionary<(Oid, long, Tid), Entry> _map = [];
    private readonly LinkedList<Entry> _lru = [];
    private readonly Lock _lock = new();
    private long _bytes;
    private bool _disposed;

    /// <summary>Bytes held by entries (in use or cached).</summary>
    public long Bytes
    {
        get { lock (_lock) return _bytes; }
    }

    /// <summary>
    /// Block <paramref name="blk"/> of <paramref name="oid"/> as of <paramref name="at"/> (holes and
    /// the tail after stored data read as zeros). Loads it from storage if no entry holds it;
    /// waits if another thread loads it. Dispose the lease after the bytes were used.
    /// </summary>
    public BlockLease Acquire(Oid oid, int blockSize, long blk, Tid at)
    {
        var key = (oid, blk, at);
        Entry e;
        bool load;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            load = !_map.TryGetValue(key, out e!);
            if (load)
            {
                e = new Entry(key, blockSize, TakeBuffer(blockSize));
                _map[key] = e;
                _bytes += blockSize;
            }
            else if (e.LruNode.List is not null)
                _lru.Remove(e.LruNode);
            e.Refs++;
        }
        if (load)
            Load(e, oid, blockSize, blk, at); // invariant (2)
        else
            e.Ready.Wait();
        if (e.Error is { } error)
        {
            Release(e);
            throw new StorageException($"read of block {blk} of {oid} @{at} failed: {error.Message}", error);
        }
        return new BlockLease(this, e);
    }

    private void Load(Entry e, Oid oid, int blockSize, long blk, Tid at)
    {
        try
        {
            storage.ReadBlock(oid, blk, at, new Span<byte>(e.Data, blockSize));
        }
        catch (Exception ex)
        {
            e.Error = ex;
            lock (_lock)
                _map.Remove(e.Key); // later readers try again; waiters see the error
        }
        e.Ready.Set();
    }

    internal void Release(Entry e)
    {
        lock (_lock)
        {
            if (--e.Refs > 0)
                return;
            if (_disposed || e.Error is not null || !_map.TryGetValue(e.Key, out var current) || current != e)
                FreeEntry(e);
            else
                _lru.AddLast(e.LruNode);
            while (_bytes > budgetBytes && _lru.First is { } oldest)
            {
                _lru.RemoveFirst();
                _map.Remove(oldest.Value.Key);
                FreeEntry(oldest.Value);
            }
        }
    }

    /// <summary>A buffer of blockSize bytes: an evicted one of the same size if the budget is full (caller holds the lock).</summary>
    private byte* TakeBuffer(int blockSize)
    {
        while (_bytes + blockSize > budgetBytes && _lru.First is { } oldest) // invariant (4)
        {
            _lru.RemoveFirst();
            _map.Remove(oldest.Value.Key);
            if (oldest.Value.Size == blockSize)
            {
                _bytes -= blockSize;
                var reused = oldest.Value.Data;
                oldest.Value.Data = null;
                return reused;
            }
            FreeEntry(oldest.Value);
        }
        return (byte*)NativeMemory.AlignedAlloc((nuint)blockSize, 4096);
    }

    private void FreeEntry(Entry e)
    {
        if (e.Data is null)
            return;
        NativeMemory.AlignedFree(e.Data);
        e.Data = null;
        _bytes -= e.Size;
    }

    /// <summary>Frees every unreferenced entry; entries still leased are freed on release.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            foreach (var e in _lru)
                FreeEntry(e);
            _lru.Clear();
            _map.Clear();
        }
    }

    internal sealed class Entry
    {
        public Entry((Oid, long, Tid) key, int size, byte* data)
        {
            Key = key;
            Size = size;
            Data = data;
            LruNode = new LinkedListNode<Entry>(this);
        }

        public (Oid, long, Tid) Key { get; }
        public int Size { get; }
        public byte* Data;
        public int Refs;
        public Exception? Error;
        public ManualResetEventSlim Ready { get; } = new(false);
        public LinkedListNode<Entry> LruNode { get; }
    }
}

/// <summary>A cached block held for use: its bytes stay valid until Dispose (BlockCache invariant (3)).</summary>
internal readonly unsafe struct BlockLease(BlockCache cache, BlockCache.Entry entry) : IDisposable
{
    /// <summary>The block's bytes (block size long).</summary>
    public byte* Data => entry.Data;

    public void Dispose() => cache.Release(entry);
}
