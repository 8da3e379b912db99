// BlockReader - reads byte ranges of a big file as of a revision from storage, with a small cache
// of whole blocks (a 1 MiB kernel request is half of a 2 MiB block: the second half is a cache hit).
//
// Threading: any thread; the cache is a few entries under one lock, data copied out of it.
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Server;

internal sealed class BlockReader(IStorage storage)
{
    private const int CacheEntries = 8;
    private readonly (Oid Oid, long Blk, Tid At, byte[] Data)?[] _cache = new (Oid, long, Tid, byte[])?[CacheEntries];
    private readonly Dictionary<(Oid, long, Tid), Lazy<byte[]>> _loading = [];
    private int _next;
    private readonly object _lock = new();

    /// <summary>
    /// Bytes [off, off+len) of the file as of at (holes and the tail of blocks read as zeros), in a
    /// buffer rented from ArrayPool&lt;byte&gt;.Shared (at least len bytes): return it after use.
    /// </summary>
    public byte[] Read(Oid oid, int blockSize, Tid at, long off, int len)
    {
        var result = System.Buffers.ArrayPool<byte>.Shared.Rent(len);
        var pos = 0;
        while (pos < len)
        {
            var abs = off + pos;
            var blk = abs / blockSize;
            var inBlk = (int)(abs % blockSize);
            var n = Math.Min(len - pos, blockSize - inBlk);
            var data = Block(oid, blockSize, blk, at);
            data.AsSpan(inBlk, n).CopyTo(result.AsSpan(pos, n));
            pos += n;
        }
        return result;
    }

    /// <summary>The whole block as of at (never modified after it is returned: callers may keep it).</summary>
    public byte[] Block(Oid oid, int blockSize, long blk, Tid at)
    {
        var key = (oid, blk, at);
        Lazy<byte[]> load;
        lock (_lock)
        {
            foreach (var e in _cache)
                if (e is { } c && c.Oid == oid && c.Blk == blk && c.At == at)
                    return c.Data;
            // Single flight: the kernel sends several requests of one block at once (readahead);
            // they share one storage read instead of reading the whole block each.
            if (!_loading.TryGetValue(key, out load!))
            {
                load = new Lazy<byte[]>(() => Load(oid, blockSize, blk, at), LazyThreadSafetyMode.ExecutionAndPublication);
                _loading[key] = load;
            }
        }
        try
        {
            return load.Value;
        }
        finally
        {
            lock (_lock)
                _loading.Remove(key);
        }
    }

    private byte[] Load(Oid oid, int blockSize, long blk, Tid at)
    {
        var data = new byte[blockSize];
        if (storage.ReadBlock(oid, blk, at, data) is null)
            Array.Clear(data);
        lock (_lock)
        {
            _cache[_next] = (oid, blk, at, data);
            _next = (_next + 1) % CacheEntries;
        }
        return data;
    }
}
