// Libc - the one place the managed code calls the C library (STYLE.md "Native boundary";
// dotnet/runtime's Interop.* pattern: one interop class per native library).
//
// Mono.Unix (the POSIX package) provides the calls it has (mmap, munmap, mincore, kill, open, read,
// close, poll); this class declares only what Mono.Unix lacks (umount2, setrlimit) and gives every
// caller the same small surface with Linux numbers. Errors: a call returns what libc returns; the
// errno of a failed call is Errno() (Mono.Unix's Stdlib.GetLastError, as Linux numbers), and the
// errno constants come from Mono.Unix.Native.Errno (no errno table of our own anywhere).
//
// Threading: every function may block only as long as the syscall does; none calls back.
using System.Runtime.InteropServices;
using Mono.Unix.Native;

namespace Wcfs.Native.Interop;

/// <summary>The libc calls of wcfs-actors (Mono.Unix where it has them).</summary>
public static partial class Libc
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

    /// <summary>kill(2) with a Linux signal number (SIGTERM 15, SIGKILL 9, SIGBUS 7).</summary>
    public static int Kill(int pid, int signal) => Syscall.kill(pid, NativeConvert.ToSignum(signal));

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

    /// <summary>The errno of the last failed call declared here (umount2, setrlimit).</summary>
    public static int LastPInvokeErrno() => Marshal.GetLastPInvokeError();

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
