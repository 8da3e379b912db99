// PrivateFiles - the mount root and the files in it, safe against other local users
// (issue 12, item 4; ARCHITECTURE.md §6 "private by default").
//
// The mount root (wcfs.mount-root, or the parent of an explicit --mountpoint) holds the
// mountpoints and each server's lock, pid and log files. Whoever controls that directory controls
// those files (a planted symlink redirects a write; a pre-created lock file blocks a server), so:
//
//   (1) The root is a real directory (never followed through a symlink), owned by the effective
//       user, with no group or other permission bits. A missing root is created 0700; any other
//       root is refused with one line saying how to fix it (nothing is changed in it).
//   (2) Files in the root are opened with O_NOFOLLOW (a symlink is refused, ELOOP) and O_CLOEXEC,
//       created 0600; an existing one must be a regular file owned by the effective user (fstat on
//       the open descriptor, so nothing can swap it between the check and the use), and loses any
//       group/other bits it had.
//
// Root (uid 0) gets the same rules: a root-run server in a directory another user owns would let
// that user redirect root's writes.
using Microsoft.Win32.SafeHandles;
using Mono.Unix.Native;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Protocol;

/// <summary>A mount root or a file in it is not private to the user: the message says why and how to fix it.</summary>
public sealed class UnsafePathException(string message) : IOException(message);

/// <summary>Creating, checking and opening the mount root and its files (see the file comment).</summary>
public static class PrivateFiles
{

    /// <summary>
    /// Creates <paramref name="dir"/> (mode 0700; missing ancestors normally) if it does not exist,
    /// then checks invariant (1).
    /// </summary>
    /// <exception cref="UnsafePathException">The directory is a symlink, not a directory, owned by another user, or open to group/other.</exception>
    public static void EnsurePrivateDirectory(string dir)
    {
        var full = Path.GetFullPath(dir).TrimEnd('/');
        if (full.Length == 0)
            throw new UnsafePathException("the mount root cannot be /");
        if (Syscall.lstat(full, out var st) != 0)
        {
            var parent = Path.GetDirectoryName(full);
            if (parent is not null)
                Directory.CreateDirectory(parent);
            if (Syscall.mkdir(full, FilePermissions.S_IRWXU) != 0 && Stdlib.GetLastError() != Errno.EEXIST)
                throw new IOException($"cannot create the mount root {full}: {Stdlib.GetLastError()}");
            if (Syscall.lstat(full, out st) != 0)
                throw new IOException($"cannot stat the mount root {full}: {Stdlib.GetLastError()}");
        }
        CheckPrivateDirectory(full, st);
    }

    /// <summary>Checks invariant (1) of an existing directory (nothing is created).</summary>
    /// <exception cref="UnsafePathException">See <see cref="EnsurePrivateDirectory"/>.</exception>
    public static void CheckPrivateDirectory(string dir)
    {
        var full = Path.GetFullPath(dir).TrimEnd('/');
        if (Syscall.lstat(full, out var st) != 0)
            throw new IOException($"cannot stat the mount root {full}: {Stdlib.GetLastError()}");
        CheckPrivateDirectory(full, st);
    }

    private static void CheckPrivateDirectory(string full, Stat st)
    {
        var me = Syscall.geteuid();
        var type = st.st_mode & FilePermissions.S_IFMT;
        var perm = (uint)st.st_mode & 0xFFF;
        string? why = type == FilePermissions.S_IFLNK ? "is a symlink"
            : type != FilePermissions.S_IFDIR ? "is not a directory"
            : st.st_uid != me ? $"is owned by uid {st.st_uid}, not by you (uid {me})"
            : (perm & 0x3F) != 0 ? $"has mode {Convert.ToString(perm, 8).PadLeft(4, '0')}, not 0700"
            : null;
        if (why is not null)
            throw new UnsafePathException(
                $"unsafe mount root {full}: it {why}; it must be a directory owned by you with mode 0700 " +
                $"(fix: chmod 700 {full}, or remove it, or set wcfs.mount-root to a directory of your own)");
    }

    /// <summary>
    /// Opens (creating if missing, 0600) the file <paramref name="path"/> in a private directory
    /// without following a symlink, and checks invariant (2). The returned stream owns the descriptor.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="truncate">Empty the file (a pid file); else keep the content.</param>
    /// <param name="append">Every write goes to the end (a log file).</param>
    /// <exception cref="UnsafePathException">A symlink, not a regular file, or another user's file.</exception>
    public static FileStream OpenPrivate(string path, bool truncate = false, bool append = false)
    {
        var flags = OpenFlags.O_RDWR | OpenFlags.O_CREAT | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC
                    | (truncate ? OpenFlags.O_TRUNC : 0) | (append ? OpenFlags.O_APPEND : 0);
        var fd = Syscall.open(path, flags, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR);
        if (fd < 0)
        {
            var err = Stdlib.GetLastError();
            throw err == Errno.ELOOP
                ? new UnsafePathException($"refusing {path}: it is a symlink (remove it; files of the mount root are never opened through a symlink)")
                : new IOException($"cannot open {path}: {err}");
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            if (Syscall.fstat(fd, out var st) != 0)
                throw new IOException($"cannot stat {path}: {Stdlib.GetLastError()}");
            var me = Syscall.geteuid();
            if ((st.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFREG)
                throw new UnsafePathException($"refusing {path}: it is not a regular file (remove it)");
            if (st.st_uid != me)
                throw new UnsafePathException($"refusing {path}: it is owned by uid {st.st_uid}, not by you (uid {me}); remove it");
            if (((uint)st.st_mode & 0x3F) != 0)
                Syscall.fchmod(fd, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR);
            return new FileStream(handle, FileAccess.ReadWrite, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The text of <paramref name="path"/>, or null if it is missing, a symlink, not a regular
    /// file or not the user's (a pid file read by status/stop).
    /// </summary>
    public static string? ReadPrivate(string path)
    {
        var fd = Syscall.open(path, OpenFlags.O_RDONLY | OpenFlags.O_NOFOLLOW | OpenFlags.O_CLOEXEC);
        if (fd < 0)
            return null;
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Syscall.fstat(fd, out var st) != 0 || (st.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFREG
            || st.st_uid != Syscall.geteuid() || st.st_size > 4096)
            return null;
        var buf = new byte[st.st_size];
        var n = RandomAccess.Read(handle, buf, 0);
        return System.Text.Encoding.UTF8.GetString(buf, 0, n);
    }

    /// <summary>
    /// Takes an exclusive, non-blocking flock on <paramref name="file"/>; false if another process holds it.
    /// The lock lives as long as the descriptor (it is released when the stream is closed).
    /// </summary>
    public static bool TryLock(FileStream file)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (Libc.TryLockExclusive(file.SafeFileHandle) == 0)
            return true;
        var errno = Libc.LastPInvokeErrno();
        return errno == Libc.EWOULDBLOCK ? false : throw new IOException($"cannot lock {file.Name}: errno {errno}");
    }
}
