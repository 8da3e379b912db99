// Libc - the one place the managed code calls the C library (STYLE.md "Native boundary";
// dotnet/runtime's Interop.* pattern: one interop class per native library).
//
// Mono.Unix (the POSIX package) provides the calls it has (mmap, munmap, mincore, kill, open, openat,
// read, pread, close, poll, posix_fadvise); this class declares only what Mono.Unix lacks (umount2,
// setrlimit, flock, inotify_*, the pidfd syscalls) and gives every caller the same small surface
// with Linux numbers. No other file of the repository declares a libc P/Invoke. Errors: a call returns what libc returns; the
// errno of a failed call is Errno() (Mono.Unix's Stdlib.GetLastError, as Linux numbers), and the
// errno constants come from Mono.Unix.Native.Errno (no errno table of our own anywhere).
//
// Threading: every function may block only as long as the syscall does; none calls back.
using System.Runtime.InteropServices;
using Mono.Unix.Native;

namespace Wcfs.Native.Interop;

/// <summary>The libc calls of wcfs-actors (Mono.Unix where it has them).</summary>
internal static partial class Libc
{
    /// <summary>PROT_READ, PROT_WRITE, PROT_NONE.</summary>
    public const int ProtNone = 0, ProtRead = 1, ProtWrite = 2;

    /// <summary>MAP_SHARED, MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE.</summary>
    public const int MapShared = 1, MapPrivate = 2, MapAnonymous = 0x20, MapNoReserve = 0x4000;

    /// <summary>The value mmap returns on failure.</summary>
    public static readonly nint MapFailed = -1;

    /// <summary>mmap(2); <see cref="MapFailed"/> on failure (see <see cref="Errno"/>).</summary>
    public static nint Mmap(nint addr, nuint length, int prot, int flags, int fd, long offset) =>
        Syscall.mmap(addr, length, (MmapProts)prot, (MmapFlags)flags, fd, offset);

    /// <summary>munmap(2).</summary>
    public static int Munmap(nint addr, nuint length) => Syscall.munmap(addr, length);

    /// <summary>mincore(2): one byte per page of [addr, addr+length) into <paramref name="vec"/>.</summary>
    public static int Mincore(nint addr, nuint length, byte[] vec) => Syscall.mincore(addr, length, vec);

    /// <summary>SIGBUS, SIGKILL, SIGTERM (Linux numbers).</summary>
    public const int SIGBUS = 7, SIGKILL = 9, SIGTERM = 15;

    /// <summary>open(2) read-only; a file descriptor, or -1 (see <see cref="Errno"/>).</summary>
    public static int OpenReadOnly(string path) => Syscall.open(path, OpenFlags.O_RDONLY);

    /// <summary>read(2) into <paramref name="buffer"/>; bytes read, or -1.</summary>
    public static unsafe long Read(int fd, Span<byte> buffer)
    {
        fixed (byte* p = buffer)
            return Syscall.read(fd, p, (ulong)buffer.Length);
    }

    /// <summary>close(2).</summary>
    public static int Close(int fd) => Syscall.close(fd);

    /// <summary>poll(2) for POLLIN on one descriptor; true if it became readable within <paramref name="timeoutMs"/>.</summary>
    public static bool WaitReadable(int fd, int timeoutMs)
    {
        var fds = new[] { new Pollfd { fd = fd, events = PollEvents.POLLIN } };
        return Syscall.poll(fds, timeoutMs) > 0;
    }

    /// <summary>poll(2) for POLLIN on one descriptor; true only if POLLIN is set in the returned events
    /// (a pidfd: the process exited) within <paramref name="timeoutMs"/>.</summary>
    public static bool PollIn(int fd, int timeoutMs)
    {
        var fds = new[] { new Pollfd { fd = fd, events = PollEvents.POLLIN } };
        return Syscall.poll(fds, timeoutMs) > 0 && (fds[0].revents & PollEvents.POLLIN) != 0;
    }

    /// <summary>posix_fadvise(2) POSIX_FADV_DONTNEED over the whole file: drops its clean pages from the
    /// page cache (the next read reaches the file system). 0, or an errno number.</summary>
    public static int DropPageCache(SafeHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Syscall.posix_fadvise((int)file.DangerousGetHandle(), 0, 0, PosixFadviseAdvice.POSIX_FADV_DONTNEED);
    }

    /// <summary>openat(2) read-only of <paramref name="name"/> relative to the directory descriptor
    /// <paramref name="dirfd"/>; a file descriptor, or -1 (see <see cref="Errno"/>).</summary>
    public static int OpenAtReadOnly(int dirfd, string name) => Syscall.openat(dirfd, name, OpenFlags.O_RDONLY);

    /// <summary>pread(2) into <paramref name="buffer"/> at <paramref name="offset"/>; bytes read, or -1.</summary>
    public static unsafe long PRead(int fd, Span<byte> buffer, long offset)
    {
        fixed (byte* p = buffer)
            return Syscall.pread(fd, p, (ulong)buffer.Length, offset);
    }

    /// <summary>The errno of the last failed call above, as a Linux number.</summary>
    public static int Errno() => NativeConvert.FromErrno(Stdlib.GetLastError());

    /// <summary>umount2(2) with MNT_DETACH; 0 or -1 (see <see cref="LastPInvokeErrno"/>).</summary>
    public static int UnmountDetach(string target) => Umount2(target, 2 /* MNT_DETACH */);

    /// <summary>setrlimit(2) of one resource (e.g. RLIMIT_AS = 9).</summary>
    public static int SetRLimit(int resource, ulong soft, ulong hard)
    {
        var limit = new RLimit { Current = soft, Max = hard };
        return SetRLimitNative(resource, ref limit);
    }

    /// <summary>The errno of the last failed call declared here (umount2, setrlimit, flock, inotify_*, pidfd_*).</summary>
    public static int LastPInvokeErrno() => Marshal.GetLastPInvokeError();

    /// <summary>flock(2) LOCK_EX|LOCK_NB: 0 when taken, -1 when not (EWOULDBLOCK: another holder; see
    /// <see cref="LastPInvokeErrno"/>).</summary>
    public static int TryLockExclusive(SafeHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        return Flock((int)file.DangerousGetHandle(), 2 /* LOCK_EX */ | 4 /* LOCK_NB */);
    }

    /// <summary>EWOULDBLOCK (Linux number): the lock of <see cref="TryLockExclusive"/> is held elsewhere.</summary>
    public const int EWOULDBLOCK = 11;

    /// <summary>inotify_init1(2) with IN_CLOEXEC; a descriptor, or -1.</summary>
    public static int InotifyInit() => InotifyInit1(0x80000 /* IN_CLOEXEC */);

    /// <summary>inotify_add_watch(2); a watch descriptor, or -1.</summary>
    public static int InotifyAddWatch(int fd, string path, uint mask) => InotifyAddWatchNative(fd, path, mask);

    /// <summary>inotify_rm_watch(2) (the kernel then delivers IN_IGNORED to the watch).</summary>
    public static int InotifyRmWatch(int fd, int wd) => InotifyRmWatchNative(fd, wd);

    /// <summary>pidfd_open(2) of <paramref name="pid"/>: a descriptor naming that one process, or -1.</summary>
    public static int PidfdOpen(int pid) => (int)Syscall2(SysPidfdOpen, pid, 0);

    /// <summary>pidfd_send_signal(2): 0, or -1 (ESRCH: the process has exited).</summary>
    public static int PidfdSendSignal(int pidfd, int signal) => (int)Syscall4(SysPidfdSendSignal, pidfd, signal, 0, 0);

    private const long SysPidfdOpen = 434, SysPidfdSendSignal = 424;

    /// <summary>fstat(2) of <paramref name="fd"/>: its size in bytes, or -1 (see <see cref="Errno"/>). On FUSE, a size
    /// whose attributes the server invalidated is asked for again.</summary>
    public static long FileSize(int fd) => Syscall.fstat(fd, out var st) == 0 ? st.st_size : -1;

    /// <summary>readahead(2): queues reads of [offset, +count) of <paramref name="fd"/> into the page cache and returns; 0, or -1.</summary>
    public static int Readahead(int fd, long offset, long count) => (int)ReadaheadNative(fd, offset, (nuint)count);

    /// <summary>
    /// Lowers the calling thread's CPU priority to nice <paramref name="nice"/> (setpriority(2) on its
    /// thread id). Raising nice needs no privilege; going back does. 0, or -1 (see <see cref="LastPInvokeErrno"/>).
    /// </summary>
    public static int LowerThreadPriority(int nice) => SetPriority(0 /* PRIO_PROCESS: with a tid, that thread */, GetTid(), nice);

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "readahead", SetLastError = true)]
    private static partial nint ReadaheadNative(int fd, long offset, nuint count);

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(int fd, int operation);

    [LibraryImport("libc", EntryPoint = "inotify_init1", SetLastError = true)]
    private static partial int InotifyInit1(int flags);

    [LibraryImport("libc", EntryPoint = "inotify_add_watch", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int InotifyAddWatchNative(int fd, string path, uint mask);

    [LibraryImport("libc", EntryPoint = "inotify_rm_watch", SetLastError = true)]
    private static partial int InotifyRmWatchNative(int fd, int wd);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall2(long number, long a1, long a2);

    [LibraryImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long number, long a1, long a2, long a3, long a4);

    [LibraryImport("libc", EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2(string target, int flags);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static partial int SetRLimitNative(int resource, ref RLimit limit);

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Max;
    }
}
