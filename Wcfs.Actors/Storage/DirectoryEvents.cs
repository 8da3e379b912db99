// DirectoryEvents - wakes a callback when entries of one directory change (Linux inotify), so that
// nothing polls: an idle process sleeps in read(2) of the inotify descriptor (docs/NOTES.md
// "Data path": change feed without polling).
//
// Used for: the SQLite commit notification file (committers touch it after their commit is
// visible: IN_ATTRIB) and the server's check that its database file is still the one it opened
// (IN_DELETE / IN_MOVED_TO of its name, IN_DELETE_SELF of the directory).
//
// Threading: one dedicated background thread per instance blocks in read(2) and calls the callback
// with the name of the entry (or null for the directory itself); the callback must return quickly
// and never throw. Dispose removes the watch (the kernel then delivers IN_IGNORED, which wakes the
// thread) and waits for the thread to end.
using System.Text;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Storage;

internal sealed class DirectoryEvents : IDisposable
{
    public const uint Modify = 0x2, Attrib = 0x4, CloseWrite = 0x8, MovedFrom = 0x40, MovedTo = 0x80,
        Create = 0x100, Delete = 0x200, DeleteSelf = 0x400, MoveSelf = 0x800;
    private const uint Ignored = 0x8000;

    private readonly int _fd;
    private readonly int _wd;
    private readonly Action<string?, uint> _onEvent;
    private readonly Thread _thread;
    private readonly Lock _lock = new();
    private bool _closed;

    private DirectoryEvents(int fd, int wd, Action<string?, uint> onEvent, string dir)
    {
        _fd = fd;
        _wd = wd;
        _onEvent = onEvent;
        _thread = new Thread(Run) { IsBackground = true, Name = "wcfs-inotify " + System.IO.Path.GetFileName(dir) };
        _thread.Start();
    }

    /// <summary>
    /// Watches <paramref name="dir"/> for the events of <paramref name="mask"/>; null if inotify is
    /// unavailable (no instances left, or the directory is gone): the caller then relies on its
    /// safety poll.
    /// </summary>
    public static DirectoryEvents? TryWatch(string dir, uint mask, Action<string?, uint> onEvent)
    {
        var fd = Libc.InotifyInit();
        if (fd < 0)
            return null;
        var wd = Libc.InotifyAddWatch(fd, dir, mask | DeleteSelf | MoveSelf);
        if (wd < 0)
        {
            Libc.Close(fd);
            return null;
        }
        return new DirectoryEvents(fd, wd, onEvent, dir);
    }

    private void Run()
    {
        var buf = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var n = Libc.Read(_fd, buf);
                if (n < 0)
                {
                    if (Libc.Errno() == 4) // EINTR
                        continue;
                    return;
                }
                for (var off = 0; off + 16 <= n;)
                {
                    // struct inotify_event { int wd; uint32 mask, cookie, len; char name[len]; }
                    var mask = BitConverter.ToUInt32(buf, off + 4);
                    var len = BitConverter.ToInt32(buf, off + 12);
                    string? name = null;
                    if (len > 0)
                    {
                        var span = buf.AsSpan(off + 16, len);
                        var end = span.IndexOf((byte)0);
                        name = Encoding.UTF8.GetString(end < 0 ? span : span[..end]);
                    }
                    off += 16 + len;
                    if ((mask & Ignored) != 0)
                        return; // watch removed: Dispose, or the directory is gone
                    _onEvent(name, mask);
                }
            }
        }
        finally
        {
            lock (_lock)
            {
                _closed = true;
                Libc.Close(_fd);
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (!_closed)
                _ = Libc.InotifyRmWatch(_fd, _wd); // delivers IN_IGNORED: the thread ends
        }
        if (Thread.CurrentThread != _thread)
            _thread.Join(TimeSpan.FromSeconds(5));
    }
}
