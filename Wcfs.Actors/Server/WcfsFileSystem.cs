// WcfsFileSystem - the WCFS server: a FUSE filesystem over IStorage with the isolation protocol.
//
// Owns: the inode table (Nodes.cs), head/ (Head.cs: revision, history, known files), watch links
// (WatchLink.cs, WatchRegistry.cs), @<tid>/ directories, and the commit processor
// (CommitProcessor.cs, the one thread that sends notifications). Does not own: the FUSE session
// (the C shim, Wcfs.Native/native/src/fuse, reached through FuseBridge) nor the process lifecycle
// (ServerHost.cs).
//
// Request flow: libfuse thread → FuseBridge ([UnmanagedCallersOnly]) → a handler here that either
// answers at once or hands off (a read waiting for pins, a watch-link read waiting for a frame) and
// returns; the answer then comes from another thread. Every request is answered exactly once.
//
// Invariants:
//   (1) Reads of head/bigfile/F serve Head.DataAt and hold F's ReadGeneration until answered
//       (Head invariant (4)); they never wait for commit processing, so a commit waiting for them
//       cannot deadlock with the kernel's page locks (ARCHITECTURE.md fact 5).
//   (2) Lazy pins go out and are acknowledged before a read of a changed block is answered
//       (WatchRegistry invariant (2)).
//   (3) @<tid>/ data never changes: its cache is never invalidated; idle ones are forgotten.
//   (4) Nothing is writable except head/watch; invalid names are ENOENT; internal errors are EIO
//       and logged with the oid/blk/rev.
using System.Collections.Concurrent;
using System.Globalization;
using System.Diagnostics;
using System.Text;
using Serilog;
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal sealed partial class WcfsFileSystem
{
    private const ulong InoRoot = 1, InoHead = 2, InoHeadAt = 3, InoWatch = 4, InoHeadBigfile = 5,
        InoDotWcfs = 6, InoZurl = 7, InoPinTimeout = 8, InoStats = 9, InoOldest = 10, FirstDynamicIno = 100;
    private const double EntryTimeout = 3600, HeadFileEntryTimeout = 1;

    private readonly ConcurrentDictionary<ulong, Node> _nodes = new();
    private readonly ConcurrentDictionary<ulong, WatchLink> _links = new();
    private readonly ConcurrentDictionary<ulong, WatchLink> _pendingLinkReads = new();
    private readonly ConcurrentDictionary<ulong, byte> _earlyInterrupts = new();
    private readonly Dictionary<Tid, RevDir> _revDirs = [];
    private readonly BlockReader _reader;
    private long _nextIno = (long)FirstDynamicIno;
    private long _nextLinkId;

    public WcfsFileSystem(IStorage storage, string url, Tid start, TimeSpan pinTimeout, TimeSpan historyWindow, TimeSpan revDirIdle)
    {
        Storage = storage;
        Url = url;
        PinTimeout = pinTimeout;
        RevDirIdleTimeout = revDirIdle;
        Head = new Head(start, historyWindow);
        Watches = new WatchRegistry(Head);
        _reader = new BlockReader(storage);

        var headBigfile = new DirNode(InoHeadBigfile, LookupHeadFile, ListHeadFiles, attrTimeout: 0);
        var headAt = new ControlNode(InoHeadAt, () => { lock (Head.Lock) return Head.HeadAt.ToString(); });
        var watch = new WatchFileNode(InoWatch);
        var headDir = new DirNode(InoHead, n => n switch { "at" => headAt, "watch" => watch, "bigfile" => headBigfile, _ => null },
            () => [("at", headAt), ("watch", watch), ("bigfile", headBigfile)]);
        var zurl = new ControlNode(InoZurl, () => Url);
        var pinTimeoutFile = new ControlNode(InoPinTimeout, () => PinTimeout.TotalSeconds.ToString("0.0##", CultureInfo.InvariantCulture));
        var stats = new ControlNode(InoStats, StatsText);
        var oldest = new ControlNode(InoOldest, () => OldestNeeded().ToString());
        var dotWcfs = new DirNode(InoDotWcfs, n => n switch { "zurl" => zurl, "pintimeout" => pinTimeoutFile, "stats" => stats, "oldest" => oldest, _ => null },
            () => [("zurl", zurl), ("pintimeout", pinTimeoutFile), ("stats", stats), ("oldest", oldest)]);
        var root = new DirNode(InoRoot, n => n switch { "head" => headDir, ".wcfs" => dotWcfs, _ => LookupRevDir(n) },
            () => [("head", headDir), (".wcfs", dotWcfs)], attrTimeout: 0);
        foreach (var n in new Node[] { root, headDir, headAt, watch, headBigfile, dotWcfs, zurl, pinTimeoutFile, stats, oldest })
            _nodes[n.Ino] = n;
    }

    public IStorage Storage { get; }
    public string Url { get; }
    public TimeSpan PinTimeout { get; }
    public TimeSpan RevDirIdleTimeout { get; }
    public Head Head { get; }
    public WatchRegistry Watches { get; }
    public ServerStats Stats { get; } = new();

    private ulong NewIno() => (ulong)Interlocked.Increment(ref _nextIno);

    // ---- lookup / getattr / readdir -------------------------------------------------------

    public void Lookup(ulong req, ulong parent, string name)
    {
        if (!_nodes.TryGetValue(parent, out var p) || p is not DirNode dir)
        {
            FuseNative.ReplyErr(req, p is null ? Errno.ENOENT : Errno.ENOTDIR);
            return;
        }
        var n = dir.Lookup(name);
        if (n is null)
        {
            FuseNative.ReplyErr(req, Errno.ENOENT);
            return;
        }
        var attr = n.Attr();
        FuseNative.ReplyEntry(req, attr, n.AttrTimeout, n is HeadFileNode ? HeadFileEntryTimeout : EntryTimeout);
    }

    public void Getattr(ulong req, ulong ino)
    {
        if (!_nodes.TryGetValue(ino, out var n))
        {
            FuseNative.ReplyErr(req, Errno.ENOENT);
            return;
        }
        var attr = n.Attr();
        FuseNative.ReplyAttr(req, attr, n.AttrTimeout);
    }

    public void Opendir(ulong req, ulong ino)
    {
        if (!_nodes.TryGetValue(ino, out var n))
            FuseNative.ReplyErr(req, Errno.ENOENT);
        else if (n is not DirNode)
            FuseNative.ReplyErr(req, Errno.ENOTDIR);
        else
            FuseNative.ReplyOpen(req, 0, FuseOpenFlags.None);
    }

    public unsafe void Readdir(ulong req, ulong ino, long off, ulong size)
    {
        if (!_nodes.TryGetValue(ino, out var n) || n is not DirNode dir)
        {
            FuseNative.ReplyErr(req, Errno.ENOTDIR);
            return;
        }
        var entries = new List<(string Name, Node Node)> { (".", dir), ("..", dir) };
        entries.AddRange(dir.List());
        var names = new MemoryStream();
        var inos = new ulong[entries.Count];
        var modes = new uint[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            names.Write(Encoding.UTF8.GetBytes(entries[i].Name));
            names.WriteByte(0);
            inos[i] = entries[i].Node.Ino;
            modes[i] = entries[i].Node.Mode;
        }
        var blob = names.ToArray();
        fixed (byte* pn = blob)
        fixed (ulong* pi = inos)
        fixed (uint* pm = modes)
            FuseNative.ReplyDir(req, size, off, pn, pi, pm, (uint)entries.Count);
    }

    // ---- head/bigfile/<oid> -----------------------------------------------------------------

    private Node? LookupHeadFile(string name)
    {
        if (!Oid.TryParse(name, out var oid))
            return null;
        while (true)
        {
            Tid at;
            lock (Head.Lock)
            {
                if (Head.Files.TryGetValue(oid, out var known))
                    return _nodes[known.Ino];
                at = Head.DataAt;
            }
            if (Storage.LoadObject(oid, at)?.State is not ZBigFileState zf)
                return null;
            var lastBlock = Storage.LastBlock(oid, at);
            lock (Head.Lock)
            {
                if (Head.DataAt != at)
                    continue; // a commit moved on while we asked storage: ask again at the new revision
                if (Head.Files.TryGetValue(oid, out var known))
                    return _nodes[known.Ino];
                var f = Head.Register(oid, zf.BlockSize, NewIno(), lastBlock);
                var node = new HeadFileNode(f, Head);
                _nodes[f.Ino] = node;
                return node;
            }
        }
    }

    private IEnumerable<(string, Node)> ListHeadFiles()
    {
        lock (Head.Lock)
            return [.. Head.Files.Values.Select(f => (f.Oid.ToString(), _nodes[f.Ino]))];
    }

    // ---- @<tid>/ ----------------------------------------------------------------------------

    private Node? LookupRevDir(string name)
    {
        if (name.Length != 17 || name[0] != '@' || !Tid.TryParse(name.AsSpan(1), out var at))
            return null;
        lock (Head.Lock)
        {
            if (at > Head.DataAt)
                return null;
        }
        lock (_revDirs)
        {
            if (!_revDirs.TryGetValue(at, out var rd))
            {
                rd = new RevDir(at);
                var bigfile = new DirNode(NewIno(), n => LookupRevFile(rd, n), () => ListRevFiles(rd));
                rd.Bigfile = bigfile;
                rd.Dir = new DirNode(NewIno(), n => n == "bigfile" ? bigfile : null, () => [("bigfile", bigfile)]);
                _nodes[bigfile.Ino] = bigfile;
                _nodes[rd.Dir.Ino] = rd.Dir;
                _revDirs[at] = rd;
            }
            rd.LastUsed = DateTime.UtcNow;
            return rd.Dir;
        }
    }

    private RevFileNode? LookupRevFile(RevDir rd, string name)
    {
        if (!Oid.TryParse(name, out var oid))
            return null;
        lock (_revDirs)
        {
            rd.LastUsed = DateTime.UtcNow;
            if (rd.Files.TryGetValue(oid, out var known))
                return known;
        }
        if (Storage.LoadObject(oid, rd.At)?.State is not ZBigFileState zf)
            return null;
        var size = (Storage.LastBlock(oid, rd.At) + 1) * zf.BlockSize;
        lock (_revDirs)
        {
            if (rd.Files.TryGetValue(oid, out var known))
                return known;
            var n = new RevFileNode(NewIno(), oid, rd.At, zf.BlockSize, size);
            rd.Files[oid] = n;
            _nodes[n.Ino] = n;
            return n;
        }
    }

    private IEnumerable<(string, Node)> ListRevFiles(RevDir rd)
    {
        lock (_revDirs)
            return [.. rd.Files.Values.Select(f => (f.Oid.ToString(), (Node)f))];
    }

    /// <summary>Forgets @rev directories unused for RevDirIdleTimeout (invariant (3)); returns their names.</summary>
    public List<string> ForgetIdleRevDirs(DateTime now)
    {
        var gone = new List<string>();
        lock (_revDirs)
        {
            foreach (var rd in _revDirs.Values.ToList())
            {
                if (rd.OpenCount > 0 || now - rd.LastUsed < RevDirIdleTimeout)
                    continue;
                _revDirs.Remove(rd.At);
                _nodes.TryRemove(rd.Dir!.Ino, out _);
                _nodes.TryRemove(rd.Bigfile!.Ino, out _);
                foreach (var f in rd.Files.Values)
                    _nodes.TryRemove(f.Ino, out _);
                gone.Add("@" + rd.At);
            }
        }
        return gone;
    }

    private RevDir? RevDirOf(RevFileNode n)
    {
        lock (_revDirs)
            return _revDirs.TryGetValue(n.At, out var rd) ? rd : null;
    }

    // ---- open / release ---------------------------------------------------------------------

    public void Open(ulong req, ulong ino, int flags, int tid)
    {
        if (!_nodes.TryGetValue(ino, out var n))
        {
            FuseNative.ReplyErr(req, Errno.ENOENT);
            return;
        }
        const int O_ACCMODE = 3, O_RDONLY = 0;
        var writes = (flags & O_ACCMODE) != O_RDONLY;
        switch (n)
        {
            case WatchFileNode:
                var link = new WatchLink(this, (ulong)Interlocked.Increment(ref _nextLinkId), ProcessKiller.ProcessOfThread(tid));
                _links[link.Id] = link;
                Watches.AddLink(link);
                if (FuseNative.ReplyOpen(req, link.Id, FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream) != 0)
                {
                    _links.TryRemove(link.Id, out _);
                    link.Close("open interrupted");
                }
                return;
            case DirNode:
                FuseNative.ReplyErr(req, Errno.EISDIR);
                return;
            case var _ when writes:
                FuseNative.ReplyErr(req, Errno.EROFS);
                return;
            case ControlNode:
                FuseNative.ReplyOpen(req, 0, FuseOpenFlags.DirectIo);
                return;
            case RevFileNode rf:
                if (RevDirOf(rf) is { } rd)
                    lock (_revDirs) { rd.OpenCount++; rd.LastUsed = DateTime.UtcNow; }
                FuseNative.ReplyOpen(req, 0, FuseOpenFlags.KeepCache);
                return;
            default:
                FuseNative.ReplyOpen(req, 0, FuseOpenFlags.KeepCache);
                return;
        }
    }

    public void Release(ulong req, ulong ino, ulong fh)
    {
        _nodes.TryGetValue(ino, out var n);
        if (n is WatchFileNode && _links.TryRemove(fh, out var link))
            link.OnRelease();
        else if (n is RevFileNode rf && RevDirOf(rf) is { } rd)
            lock (_revDirs) { rd.OpenCount--; rd.LastUsed = DateTime.UtcNow; }
        FuseNative.ReplyErr(req, 0);
    }

    // ---- read / write -----------------------------------------------------------------------

    public void Read(ulong req, ulong ino, ulong fh, long off, ulong size, bool interrupted)
    {
        if (!_nodes.TryGetValue(ino, out var n))
        {
            FuseNative.ReplyErr(req, Errno.ENOENT);
            return;
        }
        var len = (int)Math.Min(size, 1UL << 20);
        switch (n)
        {
            case ControlNode c:
                var bytes = Encoding.UTF8.GetBytes(c.Content());
                var from = (int)Math.Min(off, bytes.Length);
                FuseNative.ReplyBuf(req, bytes.AsSpan(from, Math.Min(len, bytes.Length - from)));
                return;
            case WatchFileNode:
                if (_links.TryGetValue(fh, out var link))
                    link.OnRead(req, len, interrupted);
                else
                    FuseNative.ReplyErr(req, Errno.EBADF);
                return;
            case HeadFileNode h:
                ReadHead(req, h.File, off, len, Stopwatch.GetTimestamp());
                return;
            case RevFileNode r:
                ReadRev(req, r, off, len, Stopwatch.GetTimestamp());
                return;
            default:
                FuseNative.ReplyErr(req, Errno.EISDIR);
                return;
        }
    }

    private void ReadHead(ulong req, HeadFile f, long off, int len, long started)
    {
        ReadGeneration gen;
        Tid at;
        List<Task>? pins = null;
        var n = 0;
        lock (Head.Lock)
        {
            gen = f.Generation;
            gen.Enter();
            at = Head.DataAt;
            var size = f.Size;
            if (off < size && len > 0)
            {
                n = (int)Math.Min(len, size - off);
                long b0 = off / f.BlockSize, b1 = (off + n - 1) / f.BlockSize;
                for (var b = b0; b <= b1; b++)
                    f.Accessed.Add(b);
                pins = Watches.PinsForRead(f, b0, b1); // invariant (2)
            }
        }
        if (pins is null)
            AnswerRead(req, f.Oid, f.BlockSize, at, off, n, gen, started);
        else
            Task.WhenAll(pins).ContinueWith(_ => AnswerRead(req, f.Oid, f.BlockSize, at, off, n, gen, started), TaskScheduler.Default);
    }

    private void ReadRev(ulong req, RevFileNode r, long off, int len, long started)
    {
        var n = off < r.Size ? (int)Math.Min(len, r.Size - off) : 0;
        AnswerRead(req, r.Oid, r.BlockSize, r.At, off, n, gen: null, started);
    }

    private void AnswerRead(ulong req, Oid oid, int blockSize, Tid at, long off, int n, ReadGeneration? gen, long started)
    {
        byte[]? data = null;
        try
        {
            if (n > 0 && off / blockSize == (off + n - 1) / blockSize)
            {
                // One block: answer straight from the (immutable) cached block, no extra copy.
                var block = _reader.Block(oid, blockSize, off / blockSize, at);
                FuseNative.ReplyBuf(req, block.AsSpan((int)(off % blockSize), n));
                Stats.ReadAnswered(n, started);
                return;
            }
            data = n > 0 ? _reader.Read(oid, blockSize, at, off, n) : null;
            FuseNative.ReplyBuf(req, data.AsSpan(0, n));
            Stats.ReadAnswered(n, started);
        }
        catch (Exception e)
        {
            Log.Error(e, "read of {Oid} @{At} [{Off}, +{Len}) failed", oid, at, off, n);
            FuseNative.ReplyErr(req, Errno.EIO);
        }
        finally
        {
            gen?.Exit();
            if (data is not null)
                System.Buffers.ArrayPool<byte>.Shared.Return(data);
        }
    }

    public void Write(ulong req, ulong ino, ulong fh, ReadOnlySpan<byte> data)
    {
        if (!_nodes.TryGetValue(ino, out var n) || n is not WatchFileNode || !_links.TryGetValue(fh, out var link))
        {
            FuseNative.ReplyErr(req, n is null ? Errno.ENOENT : Errno.EROFS);
            return;
        }
        link.OnWrite(data);
        FuseNative.ReplyWrite(req, (ulong)data.Length);
    }

    /// <summary>
    /// The kernel interrupts req. Remember it first, then look for a pending link read (WatchLink
    /// invariant (4)); an entry for a request answered meanwhile is dropped when next seen.
    /// </summary>
    public void Interrupt(ulong req)
    {
        _earlyInterrupts[req] = 0;
        if (_pendingLinkReads.TryGetValue(req, out var link))
        {
            _earlyInterrupts.TryRemove(req, out _);
            link.OnInterrupt(req);
        }
    }

    public bool TakeEarlyInterrupt(ulong req) => _earlyInterrupts.TryRemove(req, out _);

    public void TrackPendingRead(ulong req, WatchLink link) => _pendingLinkReads[req] = link;

    public void UntrackPendingRead(ulong req) => _pendingLinkReads.TryRemove(req, out _);

    // ---- stats ------------------------------------------------------------------------------

    /// <summary>
    /// .wcfs/oldest: the oldest revision this server may still read (`wcfs pack` keeps everything
    /// readers at or after it see): the start of the history window (never past a live watch's at)
    /// and the at of every @rev directory it knows.
    /// </summary>
    public Tid OldestNeeded()
    {
        Tid oldest;
        lock (Head.Lock)
            oldest = Head.OldestNeeded();
        lock (_revDirs)
            foreach (var at in _revDirs.Keys)
                if (at < oldest)
                    oldest = at;
        return oldest;
    }

    private string StatsText()
    {
        int files;
        Tid headAt;
        lock (Head.Lock)
        {
            files = Head.Files.Count;
            headAt = Head.HeadAt;
        }
        int revs;
        lock (_revDirs)
            revs = _revDirs.Count;
        var (links, watches, pinned) = Watches.Counts();
        return Stats.Format(new ServerStats.Gauges(files, revs, links, watches, pinned, headAt));
    }
}
