// BigFileH - a file handle: an isolated, locally modifiable view of a BigFile (VIRTMEM.md §1).
//
// Mappings and queries call the native layer directly (they wait only for the native mmap actor);
// writeout, discard and close go through the VirtmemActor that owns the handle's dirty state.
using Akka.Actor;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Virtmem;

/// <summary>A handle of a <see cref="BigFile"/> with its own dirty pages; all its VMAs see the same pages.</summary>
public sealed class BigFileH : IAsyncDisposable
{
    private readonly VmFileHHandle _native;
    private readonly IActorRef _virtmem;
    private readonly TimeSpan _timeout;
    private volatile bool _closed;

    internal BigFileH(FileHandleId id, BigFile file, VmFileHHandle native, VmRamHandle ram, int pageSize, IActorRef virtmem, TimeSpan timeout)
    {
        Ram = ram;
        Id = id;
        File = file;
        _native = native;
        PageSize = pageSize;
        _virtmem = virtmem;
        _timeout = timeout;
    }

    /// <summary>The RAM holding this handle's pages (shared with the other handles of its VirtmemActor).</summary>
    internal VmRamHandle Ram { get; }

    /// <summary>The handle's id in its VirtmemActor.</summary>
    public FileHandleId Id { get; }

    /// <summary>The file.</summary>
    public BigFile File { get; }

    /// <summary>Page size in bytes (divides the block size).</summary>
    public int PageSize { get; }

    /// <summary>The WCFS <c>FileH</c> serving this handle's base layer (null for non-WCFS backends).</summary>
    public Client.FileH? FileH => File.FileH;

    /// <summary>Number of dirty pages.</summary>
    public long DirtyPageCount => Native(h => VirtmemErrors.Check(VirtmemNative.FileHDirtyCount(h), "dirty count"));

    /// <summary>True if any page is dirty.</summary>
    public bool IsDirty => DirtyPageCount > 0;

    /// <summary>True if page <paramref name="pg"/> is dirty.</summary>
    public bool IsPageDirty(long pg) => Native(h => VirtmemErrors.Check(VirtmemNative.FileHIsPageDirty(h, (ulong)pg), $"is page {pg} dirty")) == 1;

    /// <summary>Maps pages [<paramref name="pgOffset"/>, +<paramref name="pgLen"/>). Overlay mode: whole blocks.</summary>
    /// <exception cref="VirtmemMapLimitException">Out of address space or <c>vm.max_map_count</c>; nothing was mapped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the call.</exception>
    public Task<Vma> MmapAsync(long pgOffset, long pgLen, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Mmap(pgOffset, pgLen)); // the mapping is one native call: nothing to wait for
    }

    internal Vma Mmap(long pgOffset, long pgLen)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(pgOffset);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pgLen);
        return new Vma(VmaHandle.Map(_native, pgOffset, pgLen), pgOffset, pgLen, PageSize);
    }

    /// <summary>Runs writeout; returns the number of pages stored.</summary>
    /// <exception cref="VirtmemWrittenDuringStoreException">A page was written between STORE and MARKSTORED.</exception>
    /// <exception cref="VirtmemException">A native call of the writeout failed.</exception>
    public async Task<long> WriteoutAsync(WriteoutFlags flags, CancellationToken cancellationToken = default) =>
        await _virtmem.Ask<object>(new VirtmemProtocol.Writeout(Id, flags), _timeout, cancellationToken).ConfigureAwait(false) switch
        {
            VirtmemProtocol.WriteoutDone d => d.PagesStored,
            VirtmemProtocol.WriteoutFailed f => throw ActorFailure.Rethrow(f.Cause),
            var other => throw new InvalidOperationException($"unexpected reply to Writeout: {other}"),
        };

    /// <summary>Drops every dirty page (overlay: the base shows again).</summary>
    /// <exception cref="VirtmemException">The native discard failed.</exception>
    public async Task DiscardAsync(CancellationToken cancellationToken = default)
    {
        if (await _virtmem.Ask<object>(new VirtmemProtocol.Discard(Id), _timeout, cancellationToken).ConfigureAwait(false) is VirtmemProtocol.Failed f)
            throw ActorFailure.Rethrow(f.Cause);
    }

    /// <summary>True once <see cref="DisposeAsync"/> was called.</summary>
    public bool IsClosed => _closed;

    /// <summary>Closes the handle once its VMAs are unmapped; dirty pages are dropped.</summary>
    public async ValueTask DisposeAsync()
    {
        _closed = true;
        await _virtmem.Ask<object>(new VirtmemProtocol.Close(Id), _timeout).ConfigureAwait(false);
    }

    /// <summary>The pin's "check dirty, then remap" for block <paramref name="blk"/> through the file's base
    /// ops; <paramref name="stayed"/> (pages per block) gets 1 per page that stayed dirty.</summary>
    internal unsafe int Pin(BlockNumber blk, Span<byte> stayed)
    {
        fixed (byte* s = stayed)
        {
            var p = s;
            return (int)Native(h => VirtmemErrors.Check(VirtmemNative.Pin(h, (ulong)blk.Value, 0, 0, p), $"pin block {blk}"));
        }
    }

    /// <summary>State (VM_PAGE_*) and generation of page <paramref name="pg"/>.</summary>
    internal (uint State, uint Generation) PageInfo(long pg)
    {
        uint s = 0, g = 0;
        Native(h => VirtmemErrors.Check(VirtmemNative.FileHPageInfo(h, (ulong)pg, out s, out g), $"page {pg} info"));
        return (s, g);
    }

    private long Native(Func<nint, long> call)
    {
        var ok = false;
        try
        {
            _native.DangerousAddRef(ref ok); // throws ObjectDisposedException once closed
            return call(_native.DangerousGetHandle());
        }
        finally
        {
            if (ok)
                _native.DangerousRelease();
        }
    }
}
