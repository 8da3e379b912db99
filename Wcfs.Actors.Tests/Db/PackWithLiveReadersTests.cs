// `wcfs pack` next to a running WCFS server (issue 15): the server says what it still needs
// (.wcfs/oldest), pack keeps it, and a reader holding an old snapshot keeps reading its data,
// even after the page cache is dropped so every page comes from storage again.
using System.Text;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Wcfs.Actors.Virtmem;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class PackWithLiveReadersTests : WcfsDbTestBase
{
    private static void Write(Vma v, long blk, string text) => Encoding.UTF8.GetBytes(text + "\0").CopyTo(v.GetSpan(blk * Block, Block));

    private static string Read(Vma v, long blk) => Encoding.UTF8.GetString(v.GetSpan(blk * Block, 64)).TrimEnd('\0');

    [Fact]
    public async Task Pack_keeps_everything_a_reader_holding_an_old_snapshot_reads_and_drops_it_once_nobody_needs_it()
    {
        var db = await OpenDatabaseAsync();
        var w = await db.OpenConnectionAsync();
        w.Root["f"] = ZBigFile.Create(w, Block);
        await w.CommitAsync();
        var oid = w.Root.Get<ZBigFile>("f").Oid;
        using var vw = await (await w.Root.Get<ZBigFile>("f").OpenAsync()).MmapAsync(0, 2);
        Write(vw, 0, "v1 block 0");
        Write(vw, 1, "v1 block 1");
        var at1 = await w.CommitAsync();

        var r = await db.OpenConnectionAsync(); // its snapshot: at1
        using var vr = await (await r.Root.Get<ZBigFile>("f").OpenAsync()).MmapAsync(0, 2);
        Assert.Equal("v1 block 0", Read(vr, 0));
        Assert.Equal("v1 block 1", Read(vr, 1));
        for (var i = 2; i <= 4; i++)
        {
            Write(vw, 0, $"v{i} block 0");
            Write(vw, 1, $"v{i} block 1");
            await w.CommitAsync();
        }
        var oldest = Tid.Parse(File.ReadAllText(Path.Combine(Server.Mountpoint, ".wcfs", "oldest")));
        Assert.True(oldest <= at1, $"the server needs {at1} for the reader's watch but says {oldest}");

        var pack = await WcfsCli.RunAsync("pack", Server.Url, "--keep", "0s", "--mountpoint", Server.Mountpoint);
        Assert.True(pack.ExitCode == 0, pack.ToString());
        Assert.Contains("still needs revisions from", pack.Stderr);

        await File.WriteAllTextAsync("/proc/sys/vm/drop_caches", "3"); // every page comes from storage again
        Assert.Equal("v1 block 0", Read(vr, 0));
        Assert.Equal("v1 block 1", Read(vr, 1));
        Assert.Equal("v1 block 0", ServerProcess.ReadBlock(Server.RevPath(at1, oid), 0, Block));
        await r.AbortAsync(); // to head
        Assert.Equal("v4 block 0", Read(vr, 0));

        // With every process gone, pack drops all of the history.
        vr.Dispose();
        vw.Dispose();
        await db.DisposeAsync();
        Dbs.Remove(db);
        await ServerProcess.StopAndUnmountAsync(Server.Process, Server.Mountpoint); // idempotent: teardown stops it again
        var gone = await WcfsCli.RunAsync("pack", Server.Url, "--keep", "0s", "--mountpoint", Server.Mountpoint);
        Assert.True(gone.ExitCode == 0, gone.ToString());
        var du = await WcfsCli.RunAsync("du", Server.Url, "--bytes");
        Assert.True(du.ExitCode == 0, du.ToString());
        Assert.Matches($@"{oid}\s+\d+\s+0\s+f", du.Out);
    }

    [Fact]
    public async Task Pack_refuses_a_PostgreSQL_database_unless_told_no_other_machine_serves_it_and_a_bad_duration_is_a_usage_error()
    {
        var pg = await WcfsCli.RunAsync("pack", "postgresql://nobody@127.0.0.1:1/none", "--keep", "1h");
        Assert.Equal(1, pg.ExitCode);
        Assert.Contains("--no-other-servers", pg.Stderr);
        var bad = await WcfsCli.RunAsync("pack", Server.Url, "--keep", "soon");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("invalid duration", bad.Stderr);
        Assert.DoesNotContain('\n', bad.Stderr);
    }
}
