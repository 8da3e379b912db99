// FuseNative - the C# surface of libwcfs_fuse.so (include/wcfs_fuse.h).
//
// Layouts here mirror wfuse_attr / wfuse_ops / WFUSE_OPEN_*; tests/abi_layout.c prints them from the
// real header and NativeAbiTests checks these declarations against it. Callbacks are [UnmanagedCallersOnly] function pointers
// (no delegates). A request handle is valid until it is answered with exactly one Reply* call.
using System.Runtime.InteropServices;

namespace Wcfs.Native.Interop;

/// <summary>File attributes reported to the kernel (wfuse_attr, 48 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct WfuseAttr
{
    /// <summary>Inode number.</summary>
    public ulong Ino;
    /// <summary>Size in bytes.</summary>
    public ulong Size;
    /// <summary>st_mode (type and permission bits).</summary>
    public uint Mode;
    /// <summary>Link count.</summary>
    public uint Nlink;
    /// <summary>st_blksize in bytes.</summary>
    public uint Blksize;
    /// <summary>Unused, zero.</summary>
    public uint Reserved;
    /// <summary>Modification time, seconds since the epoch.</summary>
    public long MtimeSec;
    /// <summary>Modification time, nanoseconds.</summary>
    public long MtimeNsec;
}

/// <summary>The callback table (wfuse_ops): nine unmanaged function pointers, in header order.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct WfuseOps
{
    /// <summary>lookup(req, parent, name)</summary>
    public delegate* unmanaged<ulong, ulong, byte*, void> Lookup;
    /// <summary>getattr(req, ino)</summary>
    public delegate* unmanaged<ulong, ulong, void> Getattr;
    /// <summary>open(req, ino, flags, pid)</summary>
    public delegate* unmanaged<ulong, ulong, int, int, void> Open;
    /// <summary>read(req, ino, fh, off, size, interrupted)</summary>
    public delegate* unmanaged<ulong, ulong, ulong, long, ulong, int, void> Read;
    /// <summary>write(req, ino, fh, off, data, size, interrupted)</summary>
    public delegate* unmanaged<ulong, ulong, ulong, long, byte*, ulong, int, void> Write;
    /// <summary>release(req, ino, fh)</summary>
    public delegate* unmanaged<ulong, ulong, ulong, void> Release;
    /// <summary>opendir(req, ino)</summary>
    public delegate* unmanaged<ulong, ulong, void> Opendir;
    /// <summary>readdir(req, ino, off, size)</summary>
    public delegate* unmanaged<ulong, ulong, long, ulong, void> Readdir;
    /// <summary>interrupt(req)</summary>
    public delegate* unmanaged<ulong, void> Interrupt;
}

/// <summary>Open reply flags (WFUSE_OPEN_*).</summary>
[Flags]
public enum FuseOpenFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>Keep the kernel page cache on open.</summary>
    KeepCache = 1,
    /// <summary>Bypass the page cache.</summary>
    DirectIo = 2,
    /// <summary>Not seekable.</summary>
    NonSeekable = 4,
    /// <summary>A stream: no file-position lock, reads and writes may run at once.</summary>
    Stream = 8,
}

/// <summary>The mounted session (wfuse_session*); releasing it destroys the session.</summary>
public sealed class FuseSessionHandle : SafeHandle
{
    /// <summary>An empty handle (filled by marshalling).</summary>
    public FuseSessionHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    /// <inheritdoc />
    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        FuseNative.Destroy(handle);
        return true;
    }
}

/// <summary>P/Invoke declarations of the FUSE shim. Return values: 0/count or a negative errno.</summary>
public static unsafe partial class FuseNative
{
    /// <summary>Mounts; see wfuse_mount.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_mount", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Mount(string mountpoint, string options, WfuseOps* ops, out FuseSessionHandle session);

    /// <summary>Runs the multithreaded loop until unmount (blocks).</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_loop")]
    public static partial int Loop(FuseSessionHandle s, uint maxIdleThreads);

    /// <summary>Stops the loop and detaches the mount; any thread, idempotent.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_exit")]
    public static partial int Exit(FuseSessionHandle s);

    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_destroy")]
    internal static partial void Destroy(IntPtr s);

    /// <summary>Answers with an error (errno &gt; 0).</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_err")]
    public static partial int ReplyErr(ulong req, int errno);

    /// <summary>Answers a lookup.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_entry")]
    public static partial int ReplyEntry(ulong req, in WfuseAttr attr, double attrTimeout, double entryTimeout);

    /// <summary>Answers a getattr.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_attr")]
    public static partial int ReplyAttr(ulong req, in WfuseAttr attr, double attrTimeout);

    /// <summary>Answers an open/opendir with a handle and flags.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_open")]
    public static partial int ReplyOpen(ulong req, ulong fh, FuseOpenFlags flags);

    /// <summary>Answers a read with data.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_buf")]
    public static partial int ReplyBuf(ulong req, byte* data, ulong size);

    /// <summary>Answers a write with the count written.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_write")]
    public static partial int ReplyWrite(ulong req, ulong count);

    /// <summary>Answers a readdir with entries [off, count).</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_reply_dir")]
    public static partial int ReplyDir(ulong req, ulong size, long off, byte* names, ulong* inos, uint* modes, uint count);

    /// <summary>Invalidates [off, off+len) of ino's page cache; may block on page locks.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_notify_inval_inode")]
    public static partial int NotifyInvalInode(FuseSessionHandle s, ulong ino, long off, long len);

    /// <summary>Drops a dentry from the kernel's cache.</summary>
    [LibraryImport(NativeLibraries.Fuse, EntryPoint = "wfuse_notify_inval_entry", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int NotifyInvalEntry(FuseSessionHandle s, ulong parent, string name);

    /// <summary>Answers a read with a managed span.</summary>
    public static int ReplyBuf(ulong req, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
            return ReplyBuf(req, p, (ulong)data.Length);
    }
}
