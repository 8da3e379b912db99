// Errno - the errno values the server answers with. The numbers are Mono.Unix's (Linux values):
// no errno table of our own (Wcfs.Native/Interop/Libc.cs).
namespace Wcfs.Actors.Server;

internal static class Errno
{
    public const int EPERM = (int)Mono.Unix.Native.Errno.EPERM, ENOENT = (int)Mono.Unix.Native.Errno.ENOENT, EINTR = (int)Mono.Unix.Native.Errno.EINTR, EIO = (int)Mono.Unix.Native.Errno.EIO, EBADF = (int)Mono.Unix.Native.Errno.EBADF, EACCES = (int)Mono.Unix.Native.Errno.EACCES, ENOTDIR = (int)Mono.Unix.Native.Errno.ENOTDIR,
        EISDIR = (int)Mono.Unix.Native.Errno.EISDIR, EINVAL = (int)Mono.Unix.Native.Errno.EINVAL, EROFS = (int)Mono.Unix.Native.Errno.EROFS, EPIPE = (int)Mono.Unix.Native.Errno.EPIPE, ENOTCONN = (int)Mono.Unix.Native.Errno.ENOTCONN;
}
