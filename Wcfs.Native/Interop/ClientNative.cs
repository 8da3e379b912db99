// ClientNative - the P/Invoke surface of wcfs_client.h (the native WCFS client: watch link, pinner,
// files, mappings). Prefer the SafeHandles in ClientHandles.cs.
//
// Calling context (from the header): any thread but the native mmap actor and pinner threads.
// Calls that change mappings or tables wait for the native mmap actor (which never waits on managed
// code); calls that touch the mount block for one FUSE request. None of them waits on managed code,
// so calling them from a managed thread cannot deadlock the GC (ARCHITECTURE.md fact 1). Actors call
// them from the dedicated client dispatcher (reference.conf wcfs.client.dispatcher).
using System.Runtime.InteropServices;

namespace Wcfs.Native.Interop;

/// <summary>Raw imports of the native client functions (<c>wcl_*</c>).</summary>
public static unsafe partial class ClientNative
{
    /// <summary>WCL_FRAME_MAX: a frame is at most this many bytes including its newline.</summary>
    public const int FrameMax = 256;

    /// <summary>Event kinds (WCL_EV_*).</summary>
    public const int EventReply = 1, EventPin = 2, EventDown = 3, EventLastWords = 4, EventReattaching = 5, EventReattached = 6;

    /// <summary>struct wcl_event (layout checked by NativeAbiTests against tests/abi_layout.c).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Event
    {
        /// <summary>WCL_EV_*.</summary>
        public int Kind;
        /// <summary>Pin: 0 = acked, else the negative errno that made it a nak.</summary>
        public int Rc;
        /// <summary>Stream id of the frame.</summary>
        public ulong Stream;
        /// <summary>Pin: file oid.</summary>
        public ulong Oid;
        /// <summary>Pin: block number.</summary>
        public ulong Blk;
        /// <summary>Pin: revision (meaningless if IsHead).</summary>
        public ulong Rev;
        /// <summary>Pin: nanoseconds from the start of handling the frame to its ack written.</summary>
        public ulong Nanos;
        /// <summary>Pin: 1 for @head.</summary>
        public int IsHead;
        /// <summary>Length of Text in bytes.</summary>
        public int TextLength;
        /// <summary>The frame text (reply, pin, last words) or the reason the link went down.</summary>
        public fixed byte Text[FrameMax];

        /// <summary>Text as a string.</summary>
        public readonly string TextString()
        {
            fixed (byte* p = Text)
                return System.Text.Encoding.UTF8.GetString(p, Math.Clamp(TextLength, 0, FrameMax));
        }
    }

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_wlink_parse_frame")]
    public static partial int ParseFrame(byte* line, ulong len, out ulong stream, out ulong textOffset);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_wlink_parse_pin")]
    public static partial int ParsePin(byte* text, ulong len, out ulong oid, out ulong blk, out ulong rev, out int isHead);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConnOpen(string mountpoint, out nint conn);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_request")]
    public static partial int ConnRequest(nint conn, byte* text, ulong len, out ulong stream);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_poll")]
    public static partial int ConnPoll(nint conn, Event* events, int cap);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_event_fd")]
    public static partial int ConnEventFd(nint conn);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_drop_rev_cache")]
    public static partial int ConnDropRevCache(nint conn);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_is_up")]
    public static partial int ConnIsUp(nint conn);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_set_at")]
    public static partial int ConnSetAt(nint c, ulong at);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_set_reattach")]
    public static partial int ConnSetReattach(nint c, long timeoutMs);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_set_autostart", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int ConnSetAutostart(nint c, [System.Runtime.InteropServices.In] nint[] argv, int argc, string? input);

    /// <summary>WCL_AUTOSTART_INPUT_MAX: the most bytes of stdin text an autostart command gets.</summary>
    public const int AutostartInputMax = 4096;

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_unfloor")]
    public static partial int ConnUnfloor(nint c);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_stats")]
    public static partial int ConnStats(nint conn, out ulong pins, out ulong naks, out ulong dropped);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_conn_close")]
    public static partial int ConnClose(nint conn, int timeoutMs);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_open")]
    public static partial int FileOpen(nint conn, ulong oid, ulong at, out nint file);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_info")]
    public static partial int FileInfo(nint file, out ulong blockSize, out ulong size);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_resize")]
    public static partial int FileResize(nint file, ulong newAt);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_floor")]
    public static partial int FileFloor(nint file, ulong at);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_pinned")]
    public static partial long FilePinned(nint file, ulong* blks, ulong* revs, ulong cap);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_close")]
    public static partial int FileClose(nint file);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_mmap")]
    public static partial int Mmap(nint file, ulong blkStart, ulong blkLen, out nint mapping, out nint addr);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_mapping_remmap_blk")]
    public static partial int MappingRemmapBlk(nint mapping, ulong blk);

    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_unmap")]
    public static partial int Unmap(nint mapping);

    /// <summary>wcl_file_vm_base: an overlay vm_file_t whose base layer is this WCFS file (issue 6).</summary>
    [LibraryImport(NativeLibraries.Core, EntryPoint = "wcl_file_vm_base")]
    public static partial int FileVmBase(nint file, out nint vmFile);

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1: for good) for the conn's eventfd to become readable (a blocking syscall: call it from a thread of its own).</summary>
    public static bool WaitEvents(int eventFd, int timeoutMs) => Libc.WaitReadable(eventFd, timeoutMs);

    /// <summary>Makes the conn's eventfd readable without an event (eventfd counter +1): a reader blocked in
    /// <see cref="WaitEvents"/> wakes, polls nothing and can see that it is asked to stop.</summary>
    public static unsafe void WakeEvents(int eventFd)
    {
        ulong one = 1;
        Mono.Unix.Native.Syscall.write(eventFd, &one, sizeof(ulong)); // EFD_NONBLOCK: never waits; a full counter is readable anyway
    }
}
