// Errno - the errno values the server answers with (Linux numbers).
namespace Wcfs.Actors.Server;

internal static class Errno
{
    public const int EPERM = 1, ENOENT = 2, EINTR = 4, EIO = 5, EBADF = 9, EACCES = 13, ENOTDIR = 20,
        EISDIR = 21, EINVAL = 22, EROFS = 30, EPIPE = 32, ENOTCONN = 107;
}
