// ClientHandles - SafeHandles owning the native WCFS client objects (STYLE.md "Native boundary").
//
// Ownership: a WcflFileHandle holds a DangerousAddRef on its WcflConnHandle (the native conn refuses
// to close while files are registered); a WcflMappingHandle needs nothing (unmap works after its
// file or conn closed: the mapping was made to fault, its range is still reserved).
using Microsoft.Win32.SafeHandles;
using Wcfs.Actors.Client;

namespace Wcfs.Native.Interop;

/// <summary>Owns a <c>wcl_conn_t</c>: one watch link and its native pinner thread.</summary>
public sealed class WclConnHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private WclConnHandle() : base(true) { }

    /// <summary>How long release waits for the pinner to stop after <c>bye</c>.</summary>
    public static int CloseTimeoutMs { get; set; } = 10_000;

    /// <summary>Opens <c>&lt;mountpoint&gt;/head/watch</c> and starts the pinner.</summary>
    public static WclConnHandle Open(string mountpoint)
    {
        var rc = ClientNative.ConnOpen(mountpoint, out var p);
        if (rc == -ClientErrors.ENOENT)
            throw new WcfsClientException($"open watch link of {mountpoint}: no WCFS server is mounted there (head/watch not found); start one with `wcfs serve <url>`", ClientErrors.ENOENT);
        ClientErrors.Check(rc, $"open watch link of {mountpoint}");
        var h = new WclConnHandle();
        h.SetHandle(p);
        return h;
    }

    /// <summary>Writes a client request with a fresh odd stream id; returns the stream.</summary>
    public unsafe ulong Request(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        ulong stream;
        fixed (byte* b = bytes)
            ClientErrors.Check(ClientNative.ConnRequest(handle, b, (ulong)bytes.Length, out stream), $"send \"{text}\" on the watch link");
        return stream;
    }

    /// <summary>Takes queued events without blocking.</summary>
    public unsafe int Poll(Span<ClientNative.Event> into)
    {
        fixed (ClientNative.Event* p = into)
            return (int)ClientErrors.Check(ClientNative.ConnPoll(handle, p, into.Length), "poll the pinner's events");
    }

    /// <summary>The eventfd that becomes readable when events are queued.</summary>
    public int EventFd => ClientNative.ConnEventFd(handle);

    /// <summary>True while the link is up.</summary>
    public bool IsUp => ClientNative.ConnIsUp(handle) == 1;

    /// <summary>The conn's at: a re-attach after the server died re-watches every file there.</summary>
    public void SetAt(ulong at) => ClientErrors.Check(ClientNative.ConnSetAt(handle, at), "set the conn's at");

    /// <summary>How long a link whose server died waits for a new server on the same mountpoint (zero: never).</summary>
    public void SetReattach(TimeSpan timeout) =>
        ClientErrors.Check(ClientNative.ConnSetReattach(handle, (long)timeout.TotalMilliseconds), "set the re-attach timeout");

    /// <summary>The command (argv) the native side runs to start a new server when this conn's server died, and
    /// the text it gets on stdin (the server's settings; at most <see cref="ClientNative.AutostartInputMax"/> bytes of UTF-8).</summary>
    /// <exception cref="ArgumentException"><paramref name="input"/> is longer than that.</exception>
    public void SetAutostart(IReadOnlyList<string> argv, string? input)
    {
        if (input is not null && System.Text.Encoding.UTF8.GetByteCount(input) > ClientNative.AutostartInputMax)
            throw new ArgumentException($"the settings a restarted WCFS server gets on stdin are {System.Text.Encoding.UTF8.GetByteCount(input)} bytes; at most {ClientNative.AutostartInputMax} fit (a shorter storage URL?)", nameof(input));
        var ptrs = new nint[argv.Count + 1];
        try
        {
            for (var i = 0; i < argv.Count; i++)
                ptrs[i] = System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8(argv[i]);
            ClientErrors.Check(ClientNative.ConnSetAutostart(handle, ptrs, argv.Count, input), "set the autostart command");
        }
        finally
        {
            foreach (var p in ptrs)
                System.Runtime.InteropServices.Marshal.FreeCoTaskMem(p);
        }
    }

    /// <summary>After a resync whose watches were accepted: blocks a re-attach left on the snapshot go back to head.</summary>
    public void Unfloor() => ClientErrors.Check(ClientNative.ConnUnfloor(handle), "map head again after a re-attach");

    /// <summary>Forgets cached @rev fds (resync).</summary>
    public void DropRevCache() => ClientErrors.Check(ClientNative.ConnDropRevCache(handle), "drop the @rev cache");

    /// <summary>Pins acked, pins naked, pin copies dropped.</summary>
    public (long Pins, long Naks, long Dropped) Stats()
    {
        ClientErrors.Check(ClientNative.ConnStats(handle, out var p, out var n, out var d), "conn stats");
        return ((long)p, (long)n, (long)d);
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle() => ClientNative.ConnClose(handle, CloseTimeoutMs) == 0;
}

/// <summary>Owns a <c>wcl_file_t</c>: one file watched through a conn (head fd, pinned table, mappings).</summary>
public sealed class WclFileHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private WclConnHandle? _conn;

    private WclFileHandle() : base(true) { }

    /// <summary>Block size in bytes.</summary>
    public long BlockSize { get; private set; }

    /// <summary>Opens head/bigfile/&lt;oid&gt; and registers it with the conn; <paramref name="at"/> gives the size.</summary>
    public static WclFileHandle Open(WclConnHandle conn, ulong oid, ulong at)
    {
        var added = false;
        conn.DangerousAddRef(ref added);
        try
        {
            ClientErrors.Check(ClientNative.FileOpen(conn.DangerousGetHandle(), oid, at, out var p), $"open file {oid:x16} @{at:x16}");
            var h = new WclFileHandle { _conn = conn };
            h.SetHandle(p);
            ClientErrors.Check(ClientNative.FileInfo(p, out var bs, out _), "file info");
            h.BlockSize = (long)bs;
            added = false; // the handle owns the reference now
            return h;
        }
        finally
        {
            if (added)
                conn.DangerousRelease();
        }
    }

    /// <summary>Size in bytes as of the conn's at.</summary>
    public long Size
    {
        get
        {
            ClientErrors.Check(ClientNative.FileInfo(handle, out _, out var size), "file info");
            return (long)size;
        }
    }

    /// <summary>Resync step: size as of <paramref name="newAt"/>, un-zeroing grown blocks in every mapping.</summary>
    public void Resize(ulong newAt) => ClientErrors.Check(ClientNative.FileResize(handle, newAt), $"resize to @{newAt:x16}");

    /// <summary>After a re-attach left the conn on the snapshot floor: <paramref name="at"/> != 0 (the new server refused
    /// a watch there) maps the file's unpinned blocks from @at; 0 (a watch was accepted) maps head again. False if
    /// the conn has no floor (at != 0) or the file none (at == 0): nothing done.</summary>
    public bool Floor(ulong at) => ClientErrors.Check(ClientNative.FileFloor(handle, at), at == 0 ? "map head again" : $"map the snapshot @{at:x16}") == 1;

    /// <summary>The pinned table (blk → rev), ascending.</summary>
    public unsafe (ulong Blk, ulong Rev)[] Pinned()
    {
        while (true)
        {
            var n = ClientErrors.Check(ClientNative.FilePinned(handle, null, null, 0), "read pinned table");
            var blks = new ulong[n + 16];
            var revs = new ulong[n + 16];
            fixed (ulong* b = blks, r = revs)
            {
                var m = ClientErrors.Check(ClientNative.FilePinned(handle, b, r, (ulong)blks.Length), "read pinned table");
                if (m <= blks.Length)
                    return [.. Enumerable.Range(0, (int)m).Select(i => (blks[i], revs[i]))];
            }
        }
    }

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        var ok = ClientNative.FileClose(handle) == 0;
        _conn?.DangerousRelease();
        return ok;
    }
}

/// <summary>Owns a <c>wcl_mapping_t</c>: blocks of a file mapped read-only. Release = unmap.</summary>
public sealed class WclMappingHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    private WclMappingHandle() : base(true) { }

    /// <summary>Address of the first byte.</summary>
    public nint Address { get; private set; }

    /// <summary>Maps blocks [blkStart, blkStart+blkLen) of <paramref name="file"/>.</summary>
    public static WclMappingHandle Map(WclFileHandle file, long blkStart, long blkLen)
    {
        ClientErrors.Check(ClientNative.Mmap(file.DangerousGetHandle(), (ulong)blkStart, (ulong)blkLen, out var m, out var a),
            $"mmap blocks [{blkStart}, {blkStart + blkLen})");
        var h = new WclMappingHandle { Address = a };
        h.SetHandle(m);
        return h;
    }

    /// <summary>Maps blk back to pinned[blk], else head, else zeros.</summary>
    public void RemmapBlk(long blk) => ClientErrors.Check(ClientNative.MappingRemmapBlk(handle, (ulong)blk), $"remmap block {blk}");

    /// <inheritdoc />
    protected override bool ReleaseHandle() => ClientNative.Unmap(handle) == 0;
}
