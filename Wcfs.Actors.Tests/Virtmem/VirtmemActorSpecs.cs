using Wcfs.Actors.Virtmem;
using Xunit;
using Xunit.Abstractions;
using static Wcfs.Actors.Virtmem.VirtmemProtocol;

namespace Wcfs.Actors.Tests.Virtmem;

/// <summary>The message protocol of VirtmemActor (writeout, discard, storeblk failure) with TestKit probes.</summary>
public class VirtmemActorSpecs(ITestOutputHelper output) : VirtmemTestKit(output)
{
    private const int Ps = 4096;

    private (BigFileH H, Vma Vma, RecordingStore Store) Dirty(params int[] pages)
    {
        var store = new RecordingStore();
        var file = Track(BigFile.Zero(Ps, store));
        var fh = Open(file, Ps);
        var vma = Track(fh.Mmap(0, 16));
        foreach (var pg in pages)
            vma.Span[pg * Ps] = (byte)(pg + 1);
        return (fh, vma, store);
    }

    [Fact]
    public void Writeout_replies_done_with_the_pages_stored_in_ascending_order()
    {
        var (fh, _, store) = Dirty(9, 3, 4);
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.Store | WriteoutFlags.MarkStored), TestActor);
        Assert.Equal(new WriteoutDone(fh.Id, 3), ExpectMsg<WriteoutDone>());
        Assert.Equal([3L, 4, 9], store.Calls.Select(c => c.Blk));
        Virtmem(Ps).Tell(new VirtmemProtocol.IsDirty(fh.Id), TestActor);
        Assert.Equal(new DirtyState(fh.Id, 0), ExpectMsg<DirtyState>());
    }

    [Fact]
    public void A_failing_storeblk_fails_the_writeout_and_leaves_the_handle_usable()
    {
        var (fh, vma, store) = Dirty(1, 2);
        store.FailWith = new IOException("disk full");
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.Store | WriteoutFlags.MarkStored), TestActor);
        var failed = ExpectMsg<WriteoutFailed>();
        Assert.Equal("disk full", failed.Cause.Message);
        Virtmem(Ps).Tell(new VirtmemProtocol.IsDirty(fh.Id), TestActor);
        Assert.Equal(new DirtyState(fh.Id, 2), ExpectMsg<DirtyState>()); // nothing marked stored
        vma.Span[5 * Ps] = 1;                                              // writes still work
        Virtmem(Ps).Tell(new Discard(fh.Id), TestActor);
        ExpectMsg<Discarded>();
        Assert.False(fh.IsDirty);
        Assert.Equal(0, vma.Span[Ps]);
        store.FailWith = null;                                            // and a later writeout succeeds
        vma.Span[7 * Ps] = 7;
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.Store | WriteoutFlags.MarkStored), TestActor);
        Assert.Equal(new WriteoutDone(fh.Id, 1), ExpectMsg<WriteoutDone>());
    }

    [Fact]
    public void Markstored_without_store_is_refused_as_a_usage_error()
    {
        var (fh, _, _) = Dirty(1);
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.MarkStored), TestActor);
        Assert.Contains("without a preceding STORE", ExpectMsg<WriteoutFailed>().Cause.Message);
        Assert.True(fh.IsPageDirty(1));
    }

    [Fact]
    public void Store_then_markstored_in_two_messages_cleans_the_pages()
    {
        var (fh, _, store) = Dirty(2);
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.Store), TestActor);
        Assert.Equal(new WriteoutDone(fh.Id, 1), ExpectMsg<WriteoutDone>());
        Assert.True(fh.IsDirty);
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.MarkStored), TestActor);
        ExpectMsg<WriteoutDone>();
        Assert.False(fh.IsDirty);
        Assert.Single(store.Calls);
    }

    [Fact]
    public void Requests_for_an_unknown_or_closed_handle_are_answered_with_a_failure()
    {
        var (fh, vma, _) = Dirty();
        vma.Dispose();
        Virtmem(Ps).Tell(new Close(fh.Id), TestActor);
        ExpectMsg(new Closed(fh.Id));
        Virtmem(Ps).Tell(new Discard(fh.Id), TestActor);
        Assert.Contains("is not open", ExpectMsg<Failed>().Cause.Message);
        Virtmem(Ps).Tell(new Writeout(fh.Id, WriteoutFlags.Store), TestActor);
        Assert.Contains("is not open", ExpectMsg<WriteoutFailed>().Cause.Message);
        Assert.Throws<ObjectDisposedException>(() => fh.IsDirty);
    }
}
