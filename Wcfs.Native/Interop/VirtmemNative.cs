// VirtmemNative - the P/Invoke surface of wcfs_virtmem.h (the native virtmem data plane).
//
// Calling context (from the header): every function posts a message to the native mmap actor and
// waits for its reply; the actor never waits on managed code, so calling these from any managed
// thread cannot deadlock the GC (ARCHITECTURE.md fact 1). They still block for the time of a few
// mmap calls: actors call them only from the dedicated virtmem dispatcher (reference.conf).
// Return values are 0 / a count or a negative errno; VirtmemErrors turns them into exceptions.
using System.Runtime.InteropServices;

namespace Wcfs.Native.Interop;

/// <summary>Raw imports of the native virtmem functions (<c>vm_*</c>). Prefer the SafeHandle wrappers.</summary>
public static unsafe partial class VirtmemNative
{
    /// <summary>VM_ESTORE_RACE: a page was written between STORE and MARKSTORED.</summary>
    public const int StoreRace = -10001;
    /// <summary>VM_EPHASE: not allowed in the handle's writeout phase.</summary>
    public const int WrongPhase = -10002;

    /// <summary>Page states (VM_PAGE_*).</summary>
    public const uint PageEmpty = 0, PageLoaded = 1, PageDirty = 2, PageBase = 3;

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_init")]
    public static partial int Init();

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_ram_create")]
    public static partial int RamCreate(ulong pageSize, ulong maxPages, out nint ram);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_ram_create_flags")]
    public static partial int RamCreateFlags(ulong pageSize, ulong maxPages, uint flags, out nint ram);

    /// <summary><c>VM_RAM_HUGE_TRY</c>: pages take hugetlb pages when the kernel offers them.</summary>
    public const uint RamHugeTry = 1;

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_ram_huge_stats")]
    public static partial int RamHugeStats(nint ram, out int enabled, out ulong hugePages);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_ram_destroy")]
    public static partial int RamDestroy(nint ram);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_ram_stats")]
    public static partial int RamStats(nint ram, out ulong usedPages, out ulong allocatedBytes);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_file_create_zero")]
    public static partial int FileCreateZero(ulong blockSize, out nint file);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_file_create_pread")]
    public static partial int FileCreatePread(ulong blockSize, int fd, out nint file);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_file_create_filebase")]
    public static partial int FileCreateFileBase(ulong blockSize, int fd, out nint file);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_filebase_set_block_fd")]
    public static partial int FileBaseSetBlockFd(nint file, ulong blk, int fd);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_file_destroy")]
    public static partial int FileDestroy(nint file);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_fileh_open")]
    public static partial int FileHOpen(nint file, nint ram, out nint fileh);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_fileh_close")]
    public static partial int FileHClose(nint fileh);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_fileh_dirty_count")]
    public static partial long FileHDirtyCount(nint fileh);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_fileh_is_page_dirty")]
    public static partial int FileHIsPageDirty(nint fileh, ulong pg);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_fileh_page_info")]
    public static partial int FileHPageInfo(nint fileh, ulong pg, out uint state, out uint generation);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_mmap")]
    public static partial int Mmap(nint fileh, ulong pgOffset, ulong pgLen, out nint vma, out nint addr);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_unmap")]
    public static partial int Unmap(nint vma);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_vma_efault")]
    public static partial int VmaEfault(nint vma);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_writeout_store")]
    public static partial long WriteoutStore(nint fileh, ulong* pages, nint* ram, ulong capacity);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_writeout_markstored")]
    public static partial int WriteoutMarkStored(nint fileh);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_writeout_cancel")]
    public static partial int WriteoutCancel(nint fileh);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_discard")]
    public static partial int Discard(nint fileh);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_pin")]
    public static partial int Pin(nint fileh, ulong blk, nint remapFn, nint remapCtx, byte* stayed);

    /// <summary>Faults served by the handler, by access (two atomic loads; any thread, never blocks).</summary>
    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_fault_stats")]
    public static partial int FaultStats(out ulong readFaults, out ulong writeFaults);

    /// <summary>Overlay write faults served without copying the base: the base layer had noted the page as zeros (one atomic load).</summary>
    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_zero_base_faults")]
    public static partial int ZeroBaseFaults(out ulong faults);

    /// <summary>Short time slices for the calling thread, for threads on the pin path (wcfs_virtmem.h). 0, or -errno.</summary>
    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_request_short_slice")]
    public static partial int RequestShortSlice();

    [LibraryImport(NativeLibraries.Core, EntryPoint = "vm_stats")]
    public static partial int Stats(out ulong messages, out ulong faultsServed, out ulong faultRetries);
}
