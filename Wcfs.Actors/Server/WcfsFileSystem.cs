// WcfsFileSystem - the WCFS server: a FUSE filesystem over IStorage with the isolation protocol.
//
// Owns: the inode table (Nodes.cs), head/ (Head.cs: revision, history, known files; WatchRegistry.cs:
// watches and pin decisions), @<tid>/ directories, and the routing of FUSE requests to the control
// plane's actors: one WatchLinkActor per open of head/watch, and the HeadActor (commits in order,
// invalidation on its own thread, watch setup). Does not own: the FUSE session (the C shim,
// Wcfs.Native/native/src/fuse, reached through FuseBridge), the actor system nor the process
// lifecycle (WcfsMount.cs).
//
// Request flow: libfuse thread → FuseBridge ([UnmanagedCallersOnly]) → a handler here that either
// answers at once or hands off (a read waiting for pins; every watch-link request goes to the link's
// actor) and returns; the answer then comes from another thread. Every request is answered exactly
// once. FUSE threads only read data, decide pins under Head.Lock, and tell actors: no FUSE thread
// waits for an actor, and no actor holds a lock a FUSE thread needs.
//
// Invariants:
//   (1) Reads of head/bigfile/F serve Head.DataAt and hold F's ReadGeneration until answered
//       (Head invariant (4)); they never wait for commit processing, so a commit waiting for them
//       cannot deadlock with the kernel's page locks (ARCHITECTURE.md fact 5).
//   (2) Lazy pins go out and are acknowledged before a read of a changed block is answered
//       (WatchRegistry invariant (2)).
//   (3) @<tid>/ data never changes: its cache is never invalidated; idle ones are retired (their
//       kernel entries invalidated) but their nodes stay, so no inode the kernel holds ever turns
//       into ENOENT (ForgetIdleRevDirs).
//   (4) Nothing is writable except head/watch; invalid names are ENOENT; internal errors are EIO
//       and logged with the oid/blk/rev.
//   (5) A read that entered a ReadGeneration leaves it exactly once, whatever fails (else the next
//       commit of the file would wait for it forever and head/at would freeze for everyone).
//   (6) In EIO mode (HeadActor.cs) every request for head/ fails with EIO.
using System.Collections.Concurrent;
using System.Globalization;
using System.Diagnostics;
using System.Text;
using Akka.Actor;
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
    private readonly ConcurrentDictionary<ulong, (IActorRef Actor, LinkPins Pins)> _links = new();
    private readonly ConcurrentDictionary<ulong, IActorRef> _pendingLinkReads = new();
    private readonly ConcurrentDictionary<ulong, byte> _earlyInterrupts = new();
    private readonly Dictionary<Tid, RevDir> _revDirs = [];
    private readonly BlockReader _reader;
    private readonly ReadAnswerers<AnswerJob> _answerers; // reads are answered off the FUSE threads (ReadAnswerers.cs)
    private long _nextIno = (long)FirstDynamicIno;
    private long _nextLinkId;
    private volatile string? _eioReason;
    private ActorSystem? _system;
    private IActorRef _head = ActorRefs.Nobody;
    private WatchLinkProtocol.Settings? _linkSettings;
    private string _linkDispatcher = "";

    public WcfsFileSystem(IStorage storage, string url, Tid start, TimeSpan pinTimeout, TimeSpan historyWindow, TimeSpan revDirIdle, long blockCacheBytes)
    {
        Storage = storage;
        Url = url;
        PinTimeout = pinTimeout;
        RevDirIdleTimeout = revDirIdle;
        Head = new Head(start, historyWindow);
        Watches = new WatchRegistry(Head);
        _reader = new BlockReader(storage, blockCacheBytes);
        _answerers = new ReadAnswerers<AnswerJob>(AnswerRead);

        var headBigfile = new DirNode(InoHeadBigfile, LookupHeadFile, ListHeadFiles, attrTimeout: 0);
        var headAt = new ControlNode(InoHeadAt, () => { lock (Head.Lock) return Head.HeadAt.ToString(); }, partOfHead: true);
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
    /// <summary>Owner and modes the nodes show (MountAccess.cs); the serving user's, private, by default.</summary>
    public MountAccess Access { get; init; } = MountAccess.For("", allowOther: false);

    /// <summary>Frees the block cache (after the FUSE loop ended; a late read then fails with EIO).</summary>
    public void ReleaseBlockCache()
    {
        _answerers.Dispose(); // no read is answered after this
        _reader.Dispose();
    }

    private ulong NewIno() => (ulong)Interlocked.Increment(ref _nextIno);

    /// <summary>Connects the filesystem to its control plane (before the mount serves requests).</summary>
    public void Attach(ActorSystem system, IActorRef head, WatchLinkProtocol.Settings linkSettings, string linkDispatcher)
    {
        _system = system;
        _head = head;
        _linkSettings = linkSettings;
        _linkDispatcher = linkDispatcher;
    }

    /// <summary>Why the mount is in EIO mode (HeadActor.cs), or null.</summary>
    public string? EioReason => _eioReason;

    /// <summary>Switches the mount to EIO mode for good (invariant (6)).</summary>
    public void EnterEio(string why) => _eioReason ??= why;

    /// <summary>True if n is part of head/ and the mount is in EIO mode (invariant (6)).</summary>
    private bool RefusedByEio(Node? n) =>
        _eioReason is not null && n is HeadFileNode or WatchFileNode or ControlNode { PartOfHead: true } or DirNode { Ino: InoHeadBigfile };

    // ---- lookup / getattr / readdir -------------------------------------------------------

    public void Lookup(ulong req, ulong parent, string name)
    {
        if (!_nodes.TryGetValue(parent, out var p) || p is not DirNode dir)
        {
            FuseNative.ReplyErr(req, p is null ? Errno.ENOENT : Errno.ENOTDIR);
            return;
        }
        if (RefusedByEio(dir))
        {
            FuseNative.ReplyErr(req, Errno.EIO);
            return;
        }
        var n = dir.Lookup(name);
        if (n is null)
        {
            FuseNative.ReplyErr(req, Errno.ENOENT);
            return;
        }
        var attr = Access.Apply(n.Attr());
        FuseNative.ReplyEntry(req, attr, n.AttrTimeout, n is HeadFileNode ? HeadFileEntryTimeout : EntryTimeout);
    }

    public void Getattr(ulong req, ulong ino)
    {
        if (!_nodes.TryGetValue(ino, out var n))
        {
            FuseNative.ReplyErr(req, Errno.ENOENT);
            return;
        }
        if (n is HeadFileNode && RefusedByEio(n))
        {
            FuseNative.ReplyErr(req, Errno.EIO);
            return;
        }
        var attr = Access.Apply(n.Attr());
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
            Tid tail;
            lock (Head.Lock)
                tail = Head.Tail;
            if (Storage.LoadObject(oid, at)?.State is not ZBigFileState zf)
                return null;
            var lastBlock = Storage.LastBlock(oid, at);
            var existedAtTail = Storage.LoadObject(oid, tail) is not null;
            lock (Head.Lock)
            {
                if (Head.DataAt != at || Head.Tail != tail)
                    continue; // a commit moved on while we asked storage: ask again at the new revision
                if (Head.Files.TryGetValue(oid, out var known))
                    return _nodes[known.Ino];
                var f = Head.Register(oid, zf.BlockSize, NewIno(), lastBlock, existedAtTail);
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
            rd.Retired = false;
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
            rd.Retired = false;
            if (rd.Files.TryGetValue(oid, out var known))
                return known;
        }
        if (Storage.LoadObject(oid, rd.At)?.State is not ZBigFileState zf)
            return null;
        var size = BlockNumber.FileSize(Storage.LastBlock(oid, rd.At), zf.BlockSize);
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

    /// <summary>
    /// Retires @rev directories unused for RevDirIdleTimeout (invariant (3)) and returns their names,
    /// whose kernel entries the caller invalidates (so the kernel may drop their page cache). Their
    /// nodes stay: the kernel may still name them (a held directory fd, a mapping, a lookup racing
    /// the invalidation), and a node that vanished would answer ENOENT for a revision the storage
    /// serves, which a client takes for "no such file at rev" and maps zeros (issue 12, item 6).
    /// A retired directory in use again is simply live again.
    /// </summary>
    public List<string> ForgetIdleRevDirs(DateTime now)
    {
        var gone = new List<string>();
        lock (_revDirs)
        {
            foreach (var rd in _revDirs.Values)
            {
                if (rd.Retired || rd.OpenCount > 0 || now - rd.LastUsed < RevDirIdleTimeout)
                    continue;
                rd.Retired = true;
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
        if (RefusedByEio(n))
        {
            FuseNative.ReplyErr(req, Errno.EIO);
            return;
        }
        switch (n)
        {
            case WatchFileNode:
                var id = (ulong)Interlocked.Increment(ref _nextLinkId);
                var pins = new LinkPins();
                var link = _system!.ActorOf(WatchLinkProtocol.Props(this, _head, id, ProcessHandle.OpenOfThread(tid), pins, _linkSettings!, _linkDispatcher), "link-" + id);
                _links[id] = (link, pins);
                Stats.LinkOpened();
                if (FuseNative.ReplyOpen(req, id, FuseOpenFlags.DirectIo | FuseOpenFlags.NonSeekable | FuseOpenFlags.Stream) != 0)
                {
                    _links.TryRemove(id, out _);
                    link.Tell(new WatchLinkProtocol.Released()); // open interrupted: closes
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
            link.Actor.Tell(new WatchLinkProtocol.Released());
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
        if (RefusedByEio(n))
        {
            FuseNative.ReplyErr(req, Errno.EIO);
            return;
        }
        switch (n)
        {
            case ControlNode c:
                var bytes = Encoding.UTF8.GetBytes(c.Content());
                var from = (int)Math.Min(off, bytes.Length);
                FuseNative.ReplyBuf(req, bytes.AsSpan(from, Math.Min(len, bytes.Length - from)));
                return;
            case WatchFileNode:
                if (_links.TryGetValue(fh, out var link))
                    link.Actor.Tell(new WatchLinkProtocol.LinkRead(req, len, interrupted));
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
            try
            {
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
            catch
            {
                gen.Exit(); // invariant (5)
                throw;
            }
        }
        var job = new AnswerJob(req, f.Oid, f.BlockSize, at, off, n, gen, started);
        if (pins is null)
            _answerers.Post(job);
        else
            // Posted by the thread that completes the last pin (pins complete synchronously:
            // WatchRegistry; usually the FUSE thread that took the ack, LinkPins.cs) to the pinned
            // readers, so that thread stays light and the read does not queue behind bulk reads
            // (ReadAnswerers.cs).
            Task.WhenAll(pins).ContinueWith(_ => _answerers.PostPinned(job),
                CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void ReadRev(ulong req, RevFileNode r, long off, int len, long started)
    {
        var n = off < r.Size ? (int)Math.Min(len, r.Size - off) : 0;
        _answerers.Post(new AnswerJob(req, r.Oid, r.BlockSize, r.At, off, n, Gen: null, started));
    }

    /// <summary>One read to answer (ReadAnswerers: a struct, so posting allocates nothing).</summary>
    internal readonly record struct AnswerJob(ulong Req, Oid Oid, int BlockSize, Tid At, long Off, int N, ReadGeneration? Gen, long Started);

    /// <summary>On a ReadAnswerers thread: the reply, the statistics, the generation's exit.</summary>
    private void AnswerRead(AnswerJob j)
    {
        try
        {
            _reader.Answer(j.Req, j.Oid, j.BlockSize, j.At, j.Off, j.N);
            Stats.ReadAnswered(j.N, j.Started);
        }
        catch (Exception e)
        {
            Log.Error(e, "read of {Oid} @{At} [{Off}, +{Len}) failed", j.Oid, j.At, j.Off, j.N);
            FuseNative.ReplyErr(j.Req, Errno.EIO);
        }
        finally
        {
            j.Gen?.Exit();
        }
    }

    [ThreadStatic] private static bool _writeThreadSliced;

    /// <summary>A write of head/watch: handed to the link, which answers it (chunks from WatchLinkProtocol.WriteBuffers, returned by whoever answers).</summary>
    public void Write(ulong req, ulong ino, ulong fh, byte[][] chunks, int length)
    {
        if (!_nodes.TryGetValue(ino, out var n) || n is not WatchFileNode || !_links.TryGetValue(fh, out var link))
        {
            WatchLinkProtocol.ReturnChunks(chunks);
            FuseNative.ReplyErr(req, n is null ? Errno.ENOENT : Errno.EROFS);
            return;
        }
        if (!_writeThreadSliced)
        {
            // A FUSE thread that takes acks asks for short slices, as the link threads (WatchLinkActor).
            _writeThreadSliced = true;
            _ = VirtmemNative.RequestShortSlice();
        }
        if (length is > 0 and <= LinkPins.MaxFastBytes && link.Pins.TryTakeAcks(chunks[0].AsSpan(0, length)) is { } acked)
        {
            // LinkPins fast path: answer first, then complete (LinkPins invariant (3)).
            FuseNative.ReplyWrite(req, (ulong)length);
            WatchLinkProtocol.ReturnChunks(chunks);
            foreach (var (_, p) in acked)
            {
                Stats.RecordPinRoundTrip(LinkPins.RoundTrip(p));
                p.Done.TrySetResult();
            }
            link.Actor.Tell(new WatchLinkProtocol.PinsAcked([.. acked.Select(a => a.Stream)]));
            return;
        }
        link.Pins.WriteQueued();
        link.Actor.Tell(new WatchLinkProtocol.Inbound(req, chunks, length));
    }

    /// <summary>
    /// The kernel interrupts req. Remember it first, then look for a pending link read (WatchLinkActor
    /// invariant (4)); an entry for a request answered meanwhile is dropped when next seen.
    /// </summary>
    public void Interrupt(ulong req)
    {
        _earlyInterrupts[req] = 0;
        if (_pendingLinkReads.TryGetValue(req, out var link))
        {
            _earlyInterrupts.TryRemove(req, out _);
            link.Tell(new WatchLinkProtocol.LinkInterrupt(req));
        }
    }

    public bool TakeEarlyInterrupt(ulong req) => _earlyInterrupts.TryRemove(req, out _);

    public void TrackPendingRead(ulong req, IActorRef link) => _pendingLinkReads[req] = link;

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
        int files, watches, pinned;
        Tid headAt;
        lock (Head.Lock)
        {
            files = Head.Files.Count;
            headAt = Head.HeadAt;
            (watches, pinned) = Watches.Counts();
        }
        int revs;
        lock (_revDirs)
            revs = _revDirs.Values.Count(rd => !rd.Retired);
        return Stats.Format(new ServerStats.Gauges(files, revs, watches, pinned, headAt, _eioReason is not null));
    }
}
