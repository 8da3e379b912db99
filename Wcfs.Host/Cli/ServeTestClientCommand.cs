// ServeTestClientCommand - hidden `wcfs test-client ...`: a second process for the server's tests.
// The WCFS server kills faulty clients and a page fault of a mapping can block the .NET GC
// (ARCHITECTURE.md fact 1), so tests act as misbehaving or mapping clients through this process.
//
//   test-client link <mnt> [--no-read]
//       opens <mnt>/head/watch; prints "pid <pid>"; relays every frame read from the link to
//       stdout ("< <frame>", "< EOF" at the end); every stdin line is written to the link, except:
//         !read <path> <off> <len>   pread through the file; prints "read <text of the bytes>"
//         !close                     closes the link without bye
//         !exit                      exits at once (code 0)
//       --no-read: never reads the link (a client that does not read its pins).
//   test-client mmap-read <path> <off> <len>
//       maps <path> read-only and prints "mmap <text>" of the bytes at [off, off+len) (page faults).
using System.CommandLine;
using System.IO.MemoryMappedFiles;
using System.Text;

namespace Wcfs.Host.Cli;

internal static class ServeTestClientCommand
{
    public static Command Create()
    {
        var cmd = new Command("test-client", "test helper: a watch-link or mapping client process") { Hidden = true };
        var mnt = new Argument<string>("mountpoint");
        var noRead = new Option<bool>("--no-read");
        var link = new Command("link") { mnt, noRead };
        link.SetAction(pr => Link(pr.GetValue(mnt)!, pr.GetValue(noRead)));
        cmd.Subcommands.Add(link);

        var path = new Argument<string>("path");
        var off = new Argument<long>("off");
        var len = new Argument<int>("len");
        var mmap = new Command("mmap-read") { path, off, len };
        mmap.SetAction(pr => MmapRead(pr.GetValue(path)!, pr.GetValue(off), pr.GetValue(len)));
        cmd.Subcommands.Add(mmap);
        return cmd;
    }

    private static int Link(string mountpoint, bool noRead)
    {
        var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = true };
        var fs = new FileStream(Path.Combine(mountpoint, "head", "watch"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0);
        var gate = new object();
        void Say(string s) { lock (gate) stdout.WriteLine(s); }
        Say($"pid {Environment.ProcessId}");
        if (!noRead)
        {
            new Thread(() =>
            {
                var buf = new byte[4096];
                var line = new StringBuilder();
                try
                {
                    while (true)
                    {
                        var n = fs.Read(buf);
                        if (n == 0)
                            break;
                        foreach (var ch in Encoding.UTF8.GetString(buf, 0, n))
                        {
                            if (ch == '\n') { Say("< " + line); line.Clear(); }
                            else line.Append(ch);
                        }
                    }
                    Say("< EOF");
                }
                catch (Exception e) when (e is IOException or ObjectDisposedException)
                {
                    Say("< ERROR " + e.Message);
                }
            }) { IsBackground = true }.Start();
        }
        string? cmdline;
        while ((cmdline = Console.In.ReadLine()) is not null)
        {
            if (cmdline == "!exit")
                Environment.Exit(0);
            if (cmdline == "!close")
            {
                fs.Dispose();
                Say("closed");
                continue;
            }
            if (cmdline.StartsWith("!read ", StringComparison.Ordinal))
            {
                var a = cmdline.Split(' ');
                var data = new byte[int.Parse(a[3], System.Globalization.CultureInfo.InvariantCulture)];
                using var h = File.OpenHandle(a[1]);
                var n = RandomAccess.Read(h, data, long.Parse(a[2], System.Globalization.CultureInfo.InvariantCulture));
                Say("read " + Encoding.UTF8.GetString(data, 0, n).TrimEnd('\0'));
                continue;
            }
            var bytes = Encoding.UTF8.GetBytes(cmdline + "\n");
            try { fs.Write(bytes); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { Say("write error " + e.Message); }
        }
        return 0;
    }

    private static unsafe int MmapRead(string path, long off, int len)
    {
        using var mmf = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = mmf.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        try
        {
            var text = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(p + off, len)).TrimEnd('\0');
            Console.WriteLine("mmap " + text);
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
        return 0;
    }
}
