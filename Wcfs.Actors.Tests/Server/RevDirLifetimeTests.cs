// RevDirLifetimeTests - an idle @<rev>/ directory is retired (its kernel entry invalidated) but a
// client never gets ENOENT for a revision the server serves (issue 12, item 6): a client that got
// ENOENT would take the file for absent at that revision and map zeros, silently wrong data.
using System.Text;
using Wcfs.Actors.Tests.Support;
using Wcfs.Native.Interop;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public sealed class RevDirLifetimeTests : IDisposable
{
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
        var dir = Libc.OpenReadOnly(Path.Combine(s.Mountpoint, "@" + t1, "bigfile"));
        Assert.True(dir >= 0, $"open @{t1}/bigfile: errno {Libc.Errno()}");
        try
        {
            var deadline = DateTime.UtcNow + Scaled(15);
            while (s.Stat("RevHead") != 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the idle @rev directory was not retired within 15s");
                await Task.Delay(50); // why: retirement runs on the server's idle timer; .wcfs/stats is how it shows
            }

            // the server retired @t1: the held directory must still name the file as of t1
            var fd = Libc.OpenAtReadOnly(dir, f.ToString());
            Assert.True(fd >= 0, $"openat(@{t1}/bigfile, {f}) after retirement: errno {Libc.Errno()} (ENOENT = 2 means 'absent at rev': zeros)");
            try
            {
                var buf = new byte[4096];
                var n = Libc.PRead(fd, buf, 0);
                Assert.Equal("as of t1", Encoding.ASCII.GetString(buf, 0, (int)Math.Max(n, 0)).TrimEnd('\0'));
            }
            finally
            {
                Libc.Close(fd);
            }
        }
        finally
        {
            Libc.Close(dir);
        }
        // and a fresh lookup of the retired revision works too
        Assert.Equal("as of t1", ReadBlock(s.RevPath(t1, f), 0));
    }
}
