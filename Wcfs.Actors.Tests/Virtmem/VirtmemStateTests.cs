using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Virtmem;

/// <summary>The functional core of VirtmemActor, without an ActorSystem.</summary>
public sealed class VirtmemStateTests : IDisposable
{
    private readonly BigFile _withStore = BigFile.Zero(4096, new NoStore());
    private readonly BigFile _withoutStore = BigFile.Zero(4096);
    private readonly VmRamHandle _ram = VmRamHandle.Create(4096, 4);
    private readonly List<VmFileHHandle> _handles = [];

    private sealed class NoStore : IBlockStore
    {
        public void StoreBlock(Wcfs.Actors.Storage.BlockNumber blk, long offsetInBlock, ReadOnlySpan<byte> data) { }
    }

    private (VirtmemState, FileHandleId) Add(VirtmemState s, BigFile f)
    {
        var h = VmFileHHandle.Open(f.Native, _ram);
        _handles.Add(h);
        return s.Add(f, h);
    }

    [Fact]
    public void Handles_get_distinct_ids_and_start_idle()
    {
        var (s1, a) = Add(VirtmemState.Empty, _withStore);
        var (s2, b) = Add(s1, _withStore);
        Assert.NotEqual(a, b);
        Assert.Equal(WritePhase.Idle, s2.Find(a)!.Phase);
        Assert.Null(s2.Remove(a).Find(a));
    }

    [Fact]
    public void Markstored_alone_is_a_usage_error_unless_a_store_came_before()
    {
        var (s, id) = Add(VirtmemState.Empty, _withStore);
        Assert.Contains("without a preceding STORE", s.CheckWriteout(id, WriteoutFlags.MarkStored));
        Assert.Null(s.WithPhase(id, WritePhase.Stored).CheckWriteout(id, WriteoutFlags.MarkStored));
        Assert.Null(s.CheckWriteout(id, WriteoutFlags.Store | WriteoutFlags.MarkStored));
    }

    [Fact]
    public void Store_needs_a_storeblk_and_an_open_handle()
    {
        var (s, id) = Add(VirtmemState.Empty, _withoutStore);
        Assert.Contains("no storeblk", s.CheckWriteout(id, WriteoutFlags.Store));
        Assert.Contains("is not open", s.CheckWriteout(new FileHandleId(999), WriteoutFlags.Store));
        Assert.Contains("needs Store", s.CheckWriteout(id, 0));
    }

    public void Dispose()
    {
        foreach (var h in _handles)
            h.Dispose();
        _ram.Dispose();
        _withStore.Dispose();
        _withoutStore.Dispose();
    }
}
