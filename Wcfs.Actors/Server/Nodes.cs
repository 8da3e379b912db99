// Nodes - the inodes of the WCFS tree (PROTOCOL.md §2) and their attributes.
//
//   /                     root            ino 1
//   head/                 HeadDir         ino 2
//   head/at               Control         ino 3   direct_io
//   head/watch            WatchFileNode   ino 4   direct_io, stream
//   head/bigfile/         HeadBigfileDir  ino 5
//   head/bigfile/<oid>    HeadFileNode    dynamic keep_cache
//   .wcfs/                Dir             ino 6
//   .wcfs/zurl            Control         ino 7
//   .wcfs/pintimeout      Control         ino 8
//   .wcfs/stats           Control         ino 9   direct_io
//   .wcfs/oldest          Control         ino 10  direct_io (oldest tid the server may read; wcfs pack)
//   @<tid>/               RevDir          dynamic
//   @<tid>/bigfile/       RevBigfileDir   dynamic
//   @<tid>/bigfile/<oid>  RevFileNode     dynamic keep_cache, immutable
//
// Inode numbers are never reused while the server runs (the kernel may still name a forgotten one).
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

internal abstract class Node(ulong ino)
{
    public const uint S_IFDIR = 0x4000, S_IFREG = 0x8000;

    public ulong Ino { get; } = ino;
    public abstract uint Mode { get; }
    public virtual long Size => 0;
    public virtual int BlockSize => 4096;
    /// <summary>Attribute cache seconds: 0 for what changes with head, long for immutable nodes.</summary>
    public virtual double AttrTimeout => 0;
    public bool IsDir => (Mode & S_IFDIR) != 0;

    public WfuseAttr Attr() => new()
    {
        Ino = Ino,
        Size = (ulong)Size,
        Mode = Mode,
        Nlink = IsDir ? 2u : 1u,
        Blksize = (uint)BlockSize,
    };
}

/// <summary>A directory whose children come from a lookup function and an optional listing.</summary>
internal sealed class DirNode(ulong ino, Func<string, Node?> lookup, Func<IEnumerable<(string Name, Node Node)>> list, double attrTimeout = 3600)
    : Node(ino)
{
    public override uint Mode => S_IFDIR | 0x16D; // 0555
    public override double AttrTimeout => attrTimeout;
    public Node? Lookup(string name) => lookup(name);
    public IEnumerable<(string Name, Node Node)> List() => list();
}

/// <summary>A small read-only control file whose content is produced on each read (direct_io).</summary>
internal sealed class ControlNode(ulong ino, Func<string> content, bool partOfHead = false) : Node(ino)
{
    /// <summary>head/at: refused in EIO mode.</summary>
    public bool PartOfHead { get; } = partOfHead;
    public override uint Mode => S_IFREG | 0x124; // 0444
    public string Content() => content();
}

/// <summary>head/watch: each open is a watch link.</summary>
internal sealed class WatchFileNode(ulong ino) : Node(ino)
{
    public override uint Mode => S_IFREG | 0x1B6; // 0666: the only writable file
}

/// <summary>head/bigfile/&lt;oid&gt;.</summary>
internal sealed class HeadFileNode(HeadFile file, Head head) : Node(file.Ino)
{
    public HeadFile File { get; } = file;
    public override uint Mode => S_IFREG | 0x124;
    public override int BlockSize => File.BlockSize;
    public override long Size
    {
        get { lock (head.Lock) return File.Size; }
    }
}

/// <summary>@&lt;tid&gt;/bigfile/&lt;oid&gt;: immutable.</summary>
internal sealed class RevFileNode(ulong ino, Oid oid, Tid at, int blockSize, long size) : Node(ino)
{
    public Oid Oid { get; } = oid;
    public Tid At { get; } = at;
    public override uint Mode => S_IFREG | 0x124;
    public override int BlockSize => blockSize;
    public override long Size => size;
    public override double AttrTimeout => 3600;
}

/// <summary>One @&lt;tid&gt;/ directory with its bigfile/ and files; removed after idle time.</summary>
internal sealed class RevDir(Tid at)
{
    public Tid At { get; } = at;
    public DirNode? Dir { get; set; }
    public DirNode? Bigfile { get; set; }
    public Dictionary<Oid, RevFileNode> Files { get; } = [];
    public int OpenCount { get; set; }
    public DateTime LastUsed { get; set; } = DateTime.UtcNow;
}
