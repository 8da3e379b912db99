// RevDirLifetimeTests - an idle @<rev>/ directory is retired (its kernel entry invalidated) but a
// client never gets ENOENT for a revision the server serves (issue 12, item 6): a client that got
// ENOENT would take the file for absent at that revision and map zeros, silently wrong data.
using System.Runtime.InteropServices;
using System.Text;
using Wcfs.Actors.Tests.Support;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public sealed partial class RevDirLifetimeTests : IDisposable
{
    private const int O_RDONLY = 0, O_DIRECTORY = 0x10000;
    private readonly TempDirectory _dir = new("wcfs-revdir");

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task A_retired_rev_directory_still_serves_its_files_to_a_client_holding_it_and_to_new_lookups()
    {
        await using var s = await StartAsync(server: o => o with { RevDirIdleTimeout = TimeSpan.FromMilliseconds(300) });
        var f = s.CreateFile();
        var t1 = s.Commit(f, (0, "as of t1"));
        var t2 = s.Commit(f, (0, "as of t2"));
        await s.WaitHeadAtAsync(t2);

        // a client holds @t1/bigfile/ open (as a client holds its @rev handles), then goes idle
        var dir = Open(Path.Combine(s.Mountpoint, "@" + t1, "bigfile"), O_RDONLY | O_DIRECTORY);
        Assert.True(dir >= 0, $"open @{t1}/bigfile: errno {Marshal.GetLastPInvokeError()}");
        try
        {
            var deadline = DateTime.UtcNow + Scaled(15);
            while (s.Stat("RevHead") != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the idle @rev directory was not retired within 15s");
                await Task.Delay(50); // why: retirement runs on the server's idle timer; .wcfs/stats is how it shows
            }

            // the server retired @t1: the held directory must still name the file as of t1
            var fd = OpenAt(dir, f.ToString(), O_RDONLY);
            Assert.True(fd >= 0, $"openat(@{t1}/bigfile, {f}) after retirement: errno {Marshal.GetLastPInvokeError()} (ENOENT = 2 means 'absent at rev': zeros)");
            try
            {
                var buf = new byte[4096];
                var n = PRead(fd, buf, buf.Length, 0);
                Assert.Equal("as of t1", Encoding.ASCII.GetString(buf, 0, (int)Math.Max(n, 0)).TrimEnd('\0'));
            }
            finally
            {
                Close(fd);
            }
        }
        finally
        {
            Close(dir);
        }
        // and a fresh lookup of the retired revision works too
        Assert.Equal("as of t1", ReadBlock(s.RevPath(t1, f), 0));
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "openat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenAt(int dirfd, string path, int flags);

    [LibraryImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static partial nint PRead(int fd, byte[] buf, nint count, long offset);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
