// MountAccess - who may use a mount, and the owner and modes its nodes show (issue 12; the
// `wcfs.server.allow-other` setting in hocon/reference.conf).
//
//   allow-other = off (default): no allow_other; the kernel refuses every process of another user
//     before a request reaches the server. Nodes show the serving user as owner and their own
//     modes (0444 data, 0555 dirs, 0666 head/watch): the modes never widen access.
//   allow-other = on: allow_other + default_permissions; the kernel checks each access against
//     the owner and mode shown, which follow the database file (the same users read the data
//     through the mount as through the file): read bits r of the file's mode become r on files,
//     r+x on directories, r+w on head/watch (whoever may read the data may watch it). A storage
//     without a file (PostgreSQL) shows the serving user and group with r = 0440.
using Wcfs.Actors.Storage;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Server;

/// <summary>The mount options and node ownership of a mount (see the file comment).</summary>
/// <param name="AllowOther">Other users may use the mount (with default_permissions).</param>
/// <param name="Uid">Owner shown on every node.</param>
/// <param name="Gid">Group shown on every node.</param>
/// <param name="ReadBits">With AllowOther: the r bits (of 0444) nodes derive their modes from.</param>
internal sealed record MountAccess(bool AllowOther, uint Uid, uint Gid, uint ReadBits)
{
    private const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, Perms = 0xFFF, AnyWrite = 0x92;

    /// <summary>The access of a mount of <paramref name="url"/>.</summary>
    public static MountAccess For(string url, bool allowOther)
    {
        var me = (Mono.Unix.Native.Syscall.geteuid(), Mono.Unix.Native.Syscall.getegid());
        if (!allowOther)
            return new MountAccess(false, me.Item1, me.Item2, 0x124);
        var target = StorageFactory.Parse(url);
        if (target.Kind == StorageKind.Sqlite && Mono.Unix.Native.Syscall.stat(target.Location, out var st) == 0)
            return new MountAccess(true, st.st_uid, st.st_gid, (uint)st.st_mode & 0x124);
        return new MountAccess(true, me.Item1, me.Item2, 0x120);
    }

    /// <summary>The -o options for the mount (after fsname/subtype).</summary>
    public string MountOptions => AllowOther ? ",allow_other,default_permissions" : "";

    /// <summary><paramref name="a"/> with this mount's owner and, with AllowOther, its derived mode.</summary>
    public WfuseAttr Apply(WfuseAttr a)
    {
        a.Uid = Uid;
        a.Gid = Gid;
        if (AllowOther)
        {
            var type = a.Mode & S_IFMT;
            var perms = type == S_IFDIR ? ReadBits | (ReadBits >> 2)
                : (a.Mode & AnyWrite) != 0 ? ReadBits | (ReadBits >> 1)
                : ReadBits;
            a.Mode = type | (perms & Perms);
        }
        return a;
    }
}
