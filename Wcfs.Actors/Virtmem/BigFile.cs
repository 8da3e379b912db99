// BigFile - a file of fixed-size blocks as virtmem sees it (VIRTMEM.md §1).
//
// The backends here are native (ARCHITECTURE.md fact 1: loadblk runs on the faulting thread and must
// never wait on managed code): zero-fill and pread (classic mode), a plain file as the read-only base
// layer (overlay mode). storeblk is managed (IBlockStore) and runs only during writeout, on the
// VirtmemActor's dispatcher, never on the fault path.
using Microsoft.Win32.SafeHandles;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Virtmem;

/// <summary>How reads are served.</summary>
public enum VirtmemMode
{
    /// <summary>A read fault loads the page into RAM with a native loader.</summary>
    Classic = 1,

    /// <summary>Reads come from a read-only base mapping; the first write copies the page into RAM.</summary>
    Overlay = 2,
}

/// <summary>
/// storeblk: saves the content of dirty pages during writeout (STORE), in ascending page order.
/// Called on the VirtmemActor's dispatcher thread; an exception fails the writeout (the handle stays
/// usable and its pages stay dirty).
/// </summary>
public interface IBlockStore
{
    /// <summary>
    /// Saves <paramref name="data"/> (one page) at byte <paramref name="offsetInBlock"/> of block <paramref name="blk"/>.
    /// The page is virtmem's RAM (native memory, read-only from STORE on): it stays readable and
    /// unchanged until MARKSTORED or until the handle discards its dirty pages, so a store that is done
    /// with it before then may keep a view of it (<see cref="NativePageMemory"/>) instead of a copy.
    /// </summary>
    void StoreBlock(BlockNumber blk, long offsetInBlock, ReadOnlySpan<byte> data);
}

/// <summary>A BigFile backend: blocks of <see cref="BlockSize"/> bytes; dispose after its handles.</summary>
public sealed class BigFile : IDisposable
{
    private BigFile(VmFileHandle native, VirtmemMode mode, IBlockStore? store)
    {
        Native = native;
        Mode = mode;
        Store = store;
    }

    /// <summary>The block size in bytes.</summary>
    public long BlockSize => Native.BlockSize;

    /// <summary>Classic or overlay.</summary>
    public VirtmemMode Mode { get; }

    /// <summary>The storeblk of this file (null: writeout STORE fails with a usage error).</summary>
    public IBlockStore? Store { get; }

    internal VmFileHandle Native { get; }

    /// <summary>Classic mode: every block reads as zeros until written.</summary>
    public static BigFile Zero(long blockSize, IBlockStore? store = null) =>
        new(VmFileHandle.CreateZero(blockSize), VirtmemMode.Classic, store);

    /// <summary>Classic mode: blocks are loaded with <c>pread</c> from <paramref name="file"/> (past its end: zeros).</summary>
    public static BigFile FromFile(SafeFileHandle file, long blockSize, IBlockStore? store = null) =>
        new(VmFileHandle.CreatePread(blockSize, file), VirtmemMode.Classic, store);

    /// <summary>Overlay mode: <paramref name="file"/> is mapped read-only (shared) as the base layer.
    /// Mapped blocks must lie inside the file.</summary>
    public static BigFile OverPlainFile(SafeFileHandle file, long blockSize, IBlockStore? store = null) =>
        new(VmFileHandle.CreateFileBase(blockSize, file), VirtmemMode.Overlay, store);

    /// <summary>
    /// Overlay mode over WCFS (VIRTMEM.md §4): <paramref name="wcfsFile"/> (a WCFS client file) is the base layer of every VMA; pins for dirty pages are recorded and applied when
    /// the pages go away. Dispose this BigFile (after its handles) before closing the WCFS file.
    /// </summary>
    internal static BigFile OverWcfs(Client.FileH wcfsFile, long blockSize, IBlockStore store) =>
        new(VmFileHandle.CreateWcfsBase(blockSize, wcfsFile.NativeHandle), VirtmemMode.Overlay, store) { FileH = wcfsFile };

    /// <summary>The WCFS file serving the base layer (overlay over WCFS only; else null).</summary>
    public Client.FileH? FileH { get; private init; }

    /// <summary>Plain-file base: from its next remap, block <paramref name="blk"/> is served by <paramref name="file"/>
    /// (a stand-in for a WCFS pin to <c>@rev</c>; null = back to the default file).</summary>
    internal void SetBlockBase(BlockNumber blk, SafeFileHandle? file) => Native.SetBlockBase(blk.Value, file);

    /// <summary>Releases the backend once no handle uses it.</summary>
    public void Dispose() => Native.Dispose();
}
