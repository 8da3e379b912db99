// BlockBoundTests - the one bound on block numbers, (blk+1)×blksize ≤ 2^63−1 (issue 12), in the
// shared function and in the Connection's storeblk; the storage commit and the CLI are checked in
// StorageConformanceTests and CliStorageCommandsTests.
using System.Runtime.InteropServices;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

public sealed class BlockBoundTests
{
    [Theory]
    [InlineData(4096, 2251799813685246L)]
    [InlineData(2 << 20, 4398046511102L)]
    [InlineData(64 << 20, 137438953470L)]
    public void The_last_block_of_a_file_ends_within_a_signed_64_bit_offset(int blockSize, long max)
    {
        Assert.Equal(max, BlockNumber.MaxInFile(blockSize));
        Assert.True((Int128)(max + 1) * blockSize <= long.MaxValue);
        Assert.True((Int128)(max + 2) * blockSize > long.MaxValue);
        Assert.Null(BlockNumber.CheckInFile(max, blockSize));
        Assert.Null(BlockNumber.CheckInFile(0, blockSize));
        Assert.Contains($"block {max + 1} is out of range", BlockNumber.CheckInFile(max + 1, blockSize));
        Assert.Contains("must be ≥ 0", BlockNumber.CheckInFile(-1, blockSize));
        Assert.Equal(0, BlockNumber.FileSize(-1, blockSize));
        Assert.Equal((max + 1) * blockSize, BlockNumber.FileSize(max, blockSize));
        Assert.Equal((max + 1) * blockSize, BlockNumber.FileSize(long.MaxValue, blockSize)); // never wraps
    }

    [Fact]
    public void The_issue_example_block_4398046511104_of_2_MiB_blocks_is_refused()
    {
        Assert.NotNull(BlockNumber.CheckInFile(4398046511104, 2 << 20));
        Assert.NotNull(BlockNumber.CheckInFile(long.MaxValue, 2 << 20));
    }

    [Fact]
    public void A_connection_refuses_to_store_a_block_past_the_bound_before_anything_reaches_storage()
    {
        using var dir = new TempDirectory("wcfs-blkbound");
        using var storage = StorageFactory.Open("sqlite://" + dir.File("db.sqlite"));
        var f = storage.NewOid();
        var t = storage.Commit(storage.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
        var store = new TransactionBlockStore(storage, f, 4096, () => t);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => store.StoreBlock(new BlockNumber(BlockNumber.MaxInFile(4096) + 1), 0, new byte[4096]));
        Assert.Contains("out of range", e.Message);
        Assert.Empty(store.Drain());
        StoreLast(store);
    }

    // A whole-block page is kept as a view (TransactionBlockStore invariant (3)), so it must be
    // native memory like virtmem's RAM, never a movable managed array.
    private static unsafe void StoreLast(TransactionBlockStore store)
    {
        var page = NativeMemory.AllocZeroed(4096);
        try
        {
            store.StoreBlock(new BlockNumber(BlockNumber.MaxInFile(4096)), 0, new ReadOnlySpan<byte>(page, 4096));
            Assert.Single(store.Drain());
        }
        finally
        {
            NativeMemory.Free(page);
        }
    }
}
