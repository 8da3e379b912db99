// BlockReader - answers a FUSE read of a big file as of a revision from cached blocks
// (BlockCache), gathering the reply straight from the block buffers: no managed copy, no
// allocation per request (docs/NOTES.md "Data path" has the profile before and after).
//
// A 1 MiB request covers one block of 2 MiB (the common case: one segment) or the ends of two;
// with small blocks (e.g. 4 KiB) it covers many, each one segment of the reply.
//
// Threading: any thread (FUSE workers, pin continuations); reads of different blocks never wait on
// each other (BlockCache invariant (2)).
using System.Buffers;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal sealed unsafe class BlockReader(IStorage storage, long cacheBytes) : IDisposable
{
    /// <summary>Segments of one reply on the stack; more (blocks under 16 KiB) use pooled arrays.</summary>
    private const int StackSegments = 64;
    private const int MaxSegments = 1024; // wfuse_reply_data's bound

    public BlockCache Cache { get; } = new(storage, cacheBytes);

    /// <summary>
    /// Answers req with bytes [off, off+n) of the file as of at (n may be 0: an empty reply).
    /// Throws (req not answered) if a storage read fails.
    /// </summary>
    public void Answer(ulong req, Oid oid, int blockSize, Tid at, long off, int n)
    {
        if (n <= 0)
        {
            FuseNative.ReplyBuf(req, null, 0);
            return;
        }
        var b0 = off / blockSize;
        var count = (int)((off + n - 1) / blockSize - b0 + 1);
        if (count > MaxSegments)
            throw new ArgumentOutOfRangeException(nameof(n), $"a read of {n} bytes spans {count} blocks of {blockSize} bytes (at most {MaxSegments})");
        var leases = ArrayPool<BlockLease>.Shared.Rent(count);
        try
        {
            if (count <= StackSegments)
            {
                var datas = stackalloc byte*[count];
                var sizes = stackalloc ulong[count];
                AnswerWith(req, oid, blockSize, at, off, n, datas, sizes, leases);
                return;
            }
            var d = ArrayPool<nint>.Shared.Rent(count);
            var s = ArrayPool<ulong>.Shared.Rent(count);
            try
            {
                fixed (nint* pd = d)
                fixed (ulong* ps = s)
                    AnswerWith(req, oid, blockSize, at, off, n, (byte**)pd, ps, leases);
            }
            finally
            {
                ArrayPool<nint>.Shared.Return(d);
                ArrayPool<ulong>.Shared.Return(s);
            }
        }
        finally
        {
            ArrayPool<BlockLease>.Shared.Return(leases, clearArray: true);
        }
    }

    private void AnswerWith(ulong req, Oid oid, int blockSize, Tid at, long off, int n, byte** datas, ulong* sizes, BlockLease[] leases)
    {
        var held = 0;
        try
        {
            var pos = 0;
            for (var i = 0; pos < n; i++)
            {
                var abs = off + pos;
                var inBlk = (int)(abs % blockSize);
                var len = Math.Min(n - pos, blockSize - inBlk);
                leases[i] = Cache.Acquire(oid, blockSize, abs / blockSize, at);
                held++;
                datas[i] = leases[i].Data + inBlk;
                sizes[i] = (ulong)len;
                pos += len;
            }
            FuseNative.ReplyData(req, datas, sizes, (uint)held);
        }
        finally
        {
            for (var i = 0; i < held; i++)
                leases[i].Dispose();
        }
    }

    public void Dispose() => Cache.Dispose();
}
