// FuseBridge - the [UnmanagedCallersOnly] entry points the C shim calls on libfuse worker threads.
//
// Calling context: a libfuse worker thread (native, attached to the runtime on first call); the
// request's pointers (name, data) are valid only during the call. Each entry point forwards to the
// one WcfsFileSystem of this process; an exception becomes EIO, is logged, and never unwinds into C.
using System.Runtime.InteropServices;
using Serilog;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal static unsafe class FuseBridge
{
    private static WcfsFileSystem? s_fs;

    /// <summary>Binds the bridge to the filesystem of this process (one server per process).</summary>
    public static WfuseOps Bind(WcfsFileSystem fs)
    {
        s_fs = fs;
        return new WfuseOps
        {
            Lookup = &OnLookup,
            Getattr = &OnGetattr,
            Open = &OnOpen,
            Read = &OnRead,
            Write = &OnWrite,
            Release = &OnRelease,
            Opendir = &OnOpendir,
            Readdir = &OnReaddir,
            Interrupt = &OnInterrupt,
        };
    }

    private static void Guard(ulong req, string what, Action<WcfsFileSystem> body, bool answer = true)
    {
        try
        {
            body(s_fs!);
        }
        catch (Exception e)
        {
            Log.Error(e, "FUSE {Op} failed", what);
            if (answer)
                FuseNative.ReplyErr(req, Errno.EIO);
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLookup(ulong req, ulong parent, byte* name)
    {
        var n = Marshal.PtrToStringUTF8((nint)name) ?? "";
        Guard(req, "lookup", fs => fs.Lookup(req, parent, n));
    }

    [UnmanagedCallersOnly]
    private static void OnGetattr(ulong req, ulong ino) => Guard(req, "getattr", fs => fs.Getattr(req, ino));

    [UnmanagedCallersOnly]
    private static void OnOpen(ulong req, ulong ino, int flags, int pid) => Guard(req, "open", fs => fs.Open(req, ino, flags, pid));

    [UnmanagedCallersOnly]
    private static void OnRead(ulong req, ulong ino, ulong fh, long off, ulong size, int interrupted) =>
        Guard(req, "read", fs => fs.Read(req, ino, fh, off, size, interrupted != 0));

    [UnmanagedCallersOnly]
    private static void OnWrite(ulong req, ulong ino, ulong fh, long off, byte* data, ulong size, int interrupted)
    {
        // Copied into pooled chunks: the link's actor handles them after this call returns.
        var n = checked((int)size);
        var copy = WatchLinkProtocol.CopyToChunks(new ReadOnlySpan<byte>(data, n));
        Guard(req, "write", fs => fs.Write(req, ino, fh, copy, n));
    }

    [UnmanagedCallersOnly]
    private static void OnRelease(ulong req, ulong ino, ulong fh) => Guard(req, "release", fs => fs.Release(req, ino, fh));

    [UnmanagedCallersOnly]
    private static void OnOpendir(ulong req, ulong ino) => Guard(req, "opendir", fs => fs.Opendir(req, ino));

    [UnmanagedCallersOnly]
    private static void OnReaddir(ulong req, ulong ino, long off, ulong size) => Guard(req, "readdir", fs => fs.Readdir(req, ino, off, size));

    [UnmanagedCallersOnly]
    private static void OnInterrupt(ulong req) => Guard(req, "interrupt", fs => fs.Interrupt(req), answer: false);
}
