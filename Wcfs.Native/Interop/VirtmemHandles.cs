// VirtmemHandles - SafeHandles owning the native virtmem objects (STYLE.md "Native boundary").
//
// Ownership chain (each child holds a DangerousAddRef on its parents so release order is always
// VMA -> handle -> file/RAM, whatever order the user disposes in):
//   VmRamHandle (vm_ram_t)   VmFileHandle (vm_file_t, + the OS file it reads/maps)
//            \                 /
//          VmFileHHandle (vm_fileh_t: page table, dirty state)
//                  |
//          VmaHandle (vm_vma_t: one mapping; release = unmap, exactly once)
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Wcfs.Native.Interop;

/// <summary>Owns a <c>vm_ram_t</c>: the memfd holding dirty/loaded pages.</summary>
public sealed class VmRamHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private VmRamHandle() : base(true) { }

    /// <summary>The page size of this RAM in bytes.</summary>
    public long PageSize { get; private set; }

    /// <summary>Creates a RAM of <paramref name="maxPages"/> pages of <paramref name="pageSize"/> bytes.</summary>
    /// <param name="pageSize">Page size in bytes.</param>
    /// <param name="maxPages">The budget in pages.</param>
    /// <param name="hugePages">Pages take 2 MiB huge pages while the kernel offers them, when <paramref name="pageSize"/>
    /// is a multiple of 2 MiB (<c>VM_RAM_HUGE_TRY</c>); ordinary memory otherwise.</param>
    public static VmRamHandle Create(long pageSize, long maxPages, bool hugePages = false)
    {
        VirtmemErrors.Check(VirtmemNative.RamCreateFlags((ulong)pageSize, (ulong)maxPages, hugePages ? VirtmemNative.RamHugeTry : 0, out var p),
            $"create RAM of {maxPages} pages x {pageSize} bytes");
        var h = new VmRamHandle { PageSize = pageSize };
        h.SetHandle(p);
        return h;
    }

    /// <summary>Pages allocated, and memory the memfd really holds (bytes).</summary>
    public (long UsedPages, long AllocatedBytes) Stats()
    {
        VirtmemErrors.Check(VirtmemNative.RamStats(handle, out var used, out var bytes), "RAM stats");
        return ((long)used, (long)bytes);
    }

    /// <summary>Whether this RAM has a huge-page pool, and how many of its pages are huge pages now.</summary>
    public (bool Enabled, long HugePages) HugeStats()
    {
        VirtmemErrors.Check(VirtmemNative.RamHugeStats(handle, out var enabled, out var n), "RAM huge-page stats");
        return (enabled != 0, (long)n);
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle() => VirtmemNative.RamDestroy(handle) == 0;
}

/// <summary>Owns a <c>vm_file_t</c> (a BigFile backend) and keeps its OS file open.</summary>
public sealed class VmFileHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private SafeHandle? _os; // the OS file or WCFS file this backend reads; kept alive until the backend is destroyed

    private VmFileHandle() : base(true) { }

    /// <summary>Block size in bytes.</summary>
    public long BlockSize { get; private set; }

    /// <summary>Classic mode, zero-fill loader.</summary>
    public static VmFileHandle CreateZero(long blockSize) =>
        Wrap(VirtmemNative.FileCreateZero((ulong)blockSize, out var p), p, blockSize, null, "create zero BigFile");

    /// <summary>Classic mode, <c>pread</c> loader over <paramref name="file"/>.</summary>
    public static VmFileHandle CreatePread(long blockSize, SafeFileHandle file) =>
        WithFd(file, fd => (VirtmemNative.FileCreatePread((ulong)blockSize, fd, out var p), p), blockSize, "create pread BigFile");

    /// <summary>Overlay mode over a plain file mapped read-only MAP_SHARED.</summary>
    public static VmFileHandle CreateFileBase(long blockSize, SafeFileHandle file) =>
        WithFd(file, fd => (VirtmemNative.FileCreateFileBase((ulong)blockSize, fd, out var p), p), blockSize, "create plain-file overlay BigFile");

    /// <summary>Plain-file base only: block <paramref name="blk"/> comes from <paramref name="file"/> from
    /// its next remap (null: back to the default file). The caller keeps <paramref name="file"/> open.</summary>
    public void SetBlockBase(long blk, SafeFileHandle? file) =>
        VirtmemErrors.Check(VirtmemNative.FileBaseSetBlockFd(handle, (ulong)blk, file is null ? -1 : (int)file.DangerousGetHandle()), $"set base of block {blk}");

    /// <summary>
    /// Overlay mode whose base layer is a WCFS file (<c>wcl_file_vm_base</c>): every VMA gets a WCFS
    /// Mapping at its address range; pins leave dirty pages in place and apply when they go away.
    /// The WCFS file stays referenced until this backend is released.
    /// </summary>
    public static VmFileHandle CreateWcfsBase(long blockSize, SafeHandle wcfsFile)
    {
        var ok = false;
        wcfsFile.DangerousAddRef(ref ok);
        try
        {
            var h = Wrap(ClientNative.FileVmBase(wcfsFile.DangerousGetHandle(), out var p), p, blockSize, wcfsFile, "create WCFS overlay BigFile");
            ok = false; // the handle owns the reference now
            return h;
        }
        finally
        {
            if (ok)
                wcfsFile.DangerousRelease();
        }
    }

    private static VmFileHandle WithFd(SafeFileHandle file, Func<int, (int Rc, nint P)> create, long blockSize, string what)
    {
        var ok = false;
        file.DangerousAddRef(ref ok);
        try
        {
            var (rc, p) = create((int)file.DangerousGetHandle());
            var h = Wrap(rc, p, blockSize, file, what);
            ok = false; // the handle owns the reference now
            return h;
        }
        finally
        {
            if (ok)
                file.DangerousRelease();
        }
    }

    private static VmFileHandle Wrap(int rc, nint p, long blockSize, SafeHandle? os, string what)
    {
        VirtmemErrors.Check(rc, what);
        var h = new VmFileHandle { BlockSize = blockSize, _os = os };
        h.SetHandle(p);
        return h;
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        var ok = VirtmemNative.FileDestroy(handle) == 0;
        _os?.DangerousRelease();
        return ok;
    }
}

/// <summary>Owns a <c>vm_fileh_t</c>: the page table and dirty pages of one file handle.</summary>
public sealed class VmFileHHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private VmFileHandle? _file;
    private VmRamHandle? _ram;

    private VmFileHHandle() : base(true) { }

    /// <summary>Opens a handle of <paramref name="file"/> whose pages live in <paramref name="ram"/>.</summary>
    public static VmFileHHandle Open(VmFileHandle file, VmRamHandle ram)
    {
        bool f = false, r = false;
        try
        {
            file.DangerousAddRef(ref f);
            ram.DangerousAddRef(ref r);
            VirtmemErrors.Check(VirtmemNative.FileHOpen(file.DangerousGetHandle(), ram.DangerousGetHandle(), out var p), "open BigFileH");
            var h = new VmFileHHandle { _file = file, _ram = ram };
            h.SetHandle(p);
            f = r = false;
            return h;
        }
        finally
        {
            if (f)
                file.DangerousRelease();
            if (r)
                ram.DangerousRelease();
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        var ok = VirtmemNative.FileHClose(handle) == 0;
        _file?.DangerousRelease();
        _ram?.DangerousRelease();
        return ok;
    }
}

/// <summary>Owns a <c>vm_vma_t</c>; releasing it unmaps (exactly once).</summary>
public sealed class VmaHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private VmFileHHandle? _fileh;

    private VmaHandle() : base(true) { }

    /// <summary>Start address of the mapping.</summary>
    public nint Address { get; private set; }

    /// <summary>Maps pages [<paramref name="pgOffset"/>, +<paramref name="pgLen"/>) of <paramref name="fileh"/>.</summary>
    public static VmaHandle Map(VmFileHHandle fileh, long pgOffset, long pgLen)
    {
        var ok = false;
        try
        {
            fileh.DangerousAddRef(ref ok);
            VirtmemErrors.Check(VirtmemNative.Mmap(fileh.DangerousGetHandle(), (ulong)pgOffset, (ulong)pgLen, out var v, out var addr),
                $"mmap pages [{pgOffset}, {pgOffset + pgLen})");
            var h = new VmaHandle { _fileh = fileh, Address = addr };
            h.SetHandle(v);
            ok = false;
            return h;
        }
        finally
        {
            if (ok)
                fileh.DangerousRelease();
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        var ok = VirtmemNative.Unmap(handle) == 0;
        _fileh?.DangerousRelease();
        return ok;
    }
}
