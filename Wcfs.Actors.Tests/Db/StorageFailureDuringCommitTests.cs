// A storage failure during commit (issue 6, bad input): the database lives on a small tmpfs, a
// transaction larger than the free space fails inside SQLite (disk full). The transaction aborts,
// its dirty pages are discarded, nothing partial is visible, and the connection stays usable.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class StorageFailureDuringCommitTests
{
    private const int Block = 2 << 20;

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        var err = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(TestTimeouts.Default), $"{file} {string.Join(' ', args)} did not exit within {TestTimeouts.Default}");
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: exit {p.ExitCode}: {err.Result}");
    }

    [Fact]
    public async Task A_storage_failure_during_commit_aborts_discards_the_pages_and_leaves_the_connection_usable()
    {
        var dir = Path.Combine(Path.GetTempPath(), "wcfs-full-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        Run("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", dir);
        try
        {
            await using var server = await ServerProcess.StartAsync(dir: dir);
            await using var db = await Database.OpenAsync(server.Url, new DatabaseOptions
            {
                Wcfs = new WcfsClientOptions { Mountpoint = server.Mountpoint, Autostart = false },
                Config = Akka.Configuration.ConfigurationFactory.ParseString($"wcfs.mount-root = \"{dir}\""),
            });
            var c = await db.OpenConnectionAsync();
            c.Root["f"] = ZBigFile.Create(c, Block);
            var before = await c.CommitAsync();

            var f = c.Root.Get<ZBigFile>("f");
            var h = await f.OpenAsync();
            using var v = await h.MmapAsync(0, 16L * Block / h.PageSize); // 32 MiB of dirty data > 24 MiB of disk
            var rnd = new Random(20261129);
            for (long blk = 0; blk < 16; blk++)
                rnd.NextBytes(v.GetSpan(blk * Block, Block)); // incompressible, nothing trimmed
            await Assert.ThrowsAsync<StorageException>(() => c.CommitAsync());

            Assert.Equal(before, server.Storage.LastTid);   // nothing partial is visible
            Assert.Equal(0, h.DirtyPageCount);               // the pages were discarded
            Assert.True(v.GetSpan(0, Block).IndexOfAnyExcept((byte)0) < 0); // the base shows again: a hole

            "after the failure"u8.CopyTo(v.GetSpan(0, Block)); // the connection is usable
            var after = await c.CommitAsync();
            Assert.True(after > before);
            Assert.Equal("after the failure", ServerProcess.ReadBlock(server.HeadPath(f.Oid), 0, Block));
            await c.DisposeAsync();
        }
        finally
        {
            Run("umount", "-l", dir);
            Directory.Delete(dir);
        }
    }
}
