// TransactionBlockStore - the storeblk of one ZBigFile inside one Connection (VIRTMEM.md §3).
//
// Writeout STORE calls StoreBlock for every dirty page in ascending order; nothing goes to storage
// here. The connection drains the collected blocks into the SAME storage commit as its object
// writes, so a transaction's pages and objects become visible together or not at all.
//
// Invariants:
//   (1) a block is collected whole: a page smaller than the block is laid over the block as of the
//       connection's At (what the base showed under the clean pages);
//   (2) the collection is emptied at every transaction boundary (commit, abort, failure);
//   (3) a page that is a whole block is kept as a view of virtmem's RAM page (NativePageMemory), not
//       copied: the connection commits between STORE and MARKSTORED, while the page is read-only
//       and still allocated (IBlockStore's contract), and drains the collection before MARKSTORED.
//       Copying each 2 MiB block into a fresh array made STORE run at ~300 MB/s (new large-object
//       memory faulted in and zeroed per block) and was half of the demo's fill time.
//
// Threading: StoreBlock runs on the VirtmemActor's thread; Drain/Clear on the connection's flow
// after the writeout Ask returned. A lock keeps the two apart anyway (it is never held while waiting).
using System.Runtime.InteropServices;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Db;

internal sealed class TransactionBlockStore(IStorage storage, Oid file, int blockSize, Func<Tid> at) : IBlockStore
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<long, ReadOnlyMemory<byte>> _blocks = [];

    public Oid File { get; } = file;

    /// <summary>storeblk calls since creation (diagnostics, tests).</summary>
    public long StoreCalls => Interlocked.Read(ref _storeCalls);

    private long _storeCalls;

    public void StoreBlock(BlockNumber blk, long offsetInBlock, ReadOnlySpan<byte> data)
    {
        if (offsetInBlock < 0 || offsetInBlock + data.Length > blockSize)
            throw new ArgumentOutOfRangeException(nameof(offsetInBlock), $"page [{offsetInBlock}, +{data.Length}) is outside block {blk} of {File} ({blockSize} bytes)");
        if (BlockNumber.CheckInFile(blk.Value, blockSize) is { } bad)
            throw new ArgumentOutOfRangeException(nameof(blk), $"file {File}: {bad}");
        lock (_lock)
        {
            if (offsetInBlock == 0 && data.Length == blockSize)
            {
                _blocks[blk.Value] = NativePageMemory.Of(data); // invariant (3)
            }
            else
            {
                // A handle's page size is fixed: here every page of the block is smaller than it,
                // so the entry, if any, is the array made below.
                if (!_blocks.TryGetValue(blk.Value, out var have))
                {
                    var buf = new byte[blockSize];
                    storage.ReadBlock(File, blk.Value, at(), buf); // invariant (1)
                    _blocks[blk.Value] = have = buf;
                }
                data.CopyTo(MemoryMarshal.AsMemory(have).Span[(int)offsetInBlock..]);
            }
        }
        Interlocked.Increment(ref _storeCalls);
    }

    /// <summary>The collected blocks as writes (ascending), emptying the collection.</summary>
    public List<BlockWrite> Drain()
    {
        lock (_lock)
        {
            var writes = _blocks.Select(kv => new BlockWrite(File, kv.Key, kv.Value)).ToList();
            _blocks.Clear();
            return writes;
        }
    }

    public void Clear()
    {
        lock (_lock)
            _blocks.Clear();
    }
}
