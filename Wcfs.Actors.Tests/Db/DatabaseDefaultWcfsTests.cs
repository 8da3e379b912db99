// Database.OpenAsync with no WCFS options: the connections join the server of the database at the
// standard mountpoint under wcfs.mount-root, autostarting it (wcfs.autostart = on), and ZBigFile
// pages are mapped through it. The autostarted server is stopped in finally.
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Db;
using Wcfs.Actors.Hosting;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class DatabaseDefaultWcfsTests
{
    [Fact]
    public async Task By_default_a_database_autostarts_its_wcfs_server_and_maps_files_through_it()
    {
        using var dir = new TempDirectory("wcfs-dbdefault");
        var mountRoot = dir.File("mnt");
        var url = "sqlite://" + dir.File("db.sqlite");
        var configFile = dir.File("wcfs.conf");
        await File.WriteAllTextAsync(configFile, $"wcfs.mount-root = \"{mountRoot}\"\nwcfs.autostart = on\n");
        var mnt = MountPoint.For(url, mountRoot);
        var stopped = false;
        var stopResult = "";
        try
        {
            await using var db = await Database.OpenAsync(url, new DatabaseOptions { Config = ConfigurationFactory.ParseString(await File.ReadAllTextAsync(configFile)) });
            var c = await db.OpenConnectionAsync();
            c.Root["f"] = ZBigFile.Create(c, 64 << 10);
            await c.CommitAsync();
            Assert.True(MountPoint.IsMounted(mnt), $"no server was autostarted at {mnt}");

            var f = c.Root.Get<ZBigFile>("f");
            var h = await f.OpenAsync();
            Assert.NotNull(h.FileH); // the base layer is a WCFS file
            using var v = await h.MmapAsync(0, (64 << 10) / h.PageSize);
            "default path"u8.CopyTo(v.Span);
            await c.CommitAsync();
            Assert.Equal("default path", ServerProcess.ReadBlock(Path.Combine(mnt, "head", "bigfile", f.Oid.ToString()), 0, 64 << 10));

            // a standalone database creates exactly one actor system, and its WCFS client runs in it
            var client = ((WcfsClientSessions)db.Sessions).Client!;
            Assert.Same(db.Runtime.System, client.System);
            Assert.Equal("wcfs", db.Runtime.System.Name);
        }
        finally
        {
            var stop = await WcfsCli.RunAsync("stop", url, "--config", configFile);
            (stopped, stopResult) = (stop.ExitCode == 0, stop.ToString());
            if (MountPoint.IsMounted(mnt))
                MountPoint.Unmount(mnt);
        }
        Assert.True(stopped, $"wcfs stop: {stopResult}"); // after the finally: a failure above is not hidden by this one
    }

    [Fact]
    public async Task A_database_on_a_plain_actor_system_runs_every_runtime_actor_there_and_creates_no_second_system()
    {
        using var dir = new TempDirectory("wcfs-dbplain");
        var mountRoot = dir.File("mnt");
        var url = "sqlite://" + dir.File("db.sqlite");
        var configFile = dir.File("wcfs.conf");
        await File.WriteAllTextAsync(configFile, $"wcfs.mount-root = \"{mountRoot}\"\n");
        var mnt = MountPoint.For(url, mountRoot);
        // plain: no reference.conf in its config; the runtime adds it
        var system = ActorSystem.Create("plain-app", ConfigurationFactory.ParseString(await File.ReadAllTextAsync(configFile)));
        try
        {
            await using (var db = await Database.OpenAsync(url, new DatabaseOptions { System = system }))
            {
                var c = await db.OpenConnectionAsync();
                c.Root["f"] = ZBigFile.Create(c, 64 << 10);
                await c.CommitAsync();
                var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
                using (var v = await h.MmapAsync(0, 1))
                    "plain"u8.CopyTo(v.Span);
                await c.CommitAsync();

                Assert.Same(system, db.Runtime.System);
                Assert.Same(db.Runtime, WcfsRuntime.Get(system));
                var client = ((WcfsClientSessions)db.Sessions).Client!;
                Assert.Same(system, client.System); // the WCFS client did not create a system of its own
                Assert.Equal(mountRoot, db.Settings.MountRoot); // the one settings object, read from the app's config
                Assert.Equal(client.Actor, await system.ActorSelection(client.Actor.Path).ResolveOne(TestTimeouts.Default));
                Assert.StartsWith("/system/wcfs-client-", client.Actor.Path.ToStringWithoutAddress(), StringComparison.Ordinal);
                var virtmem = await system.ActorSelection("/system/wcfs-virtmem-*").ResolveOne(TestTimeouts.Default);
                Assert.Equal("plain-app", virtmem.Path.Address.System);
            }
            Assert.False(system.WhenTerminated.IsCompleted); // the app's system outlives the database
        }
        finally
        {
            await system.Terminate();
            var stop = await WcfsCli.RunAsync("stop", url, "--config", configFile);
            if (MountPoint.IsMounted(mnt))
                MountPoint.Unmount(mnt);
            Assert.True(stop.ExitCode == 0, $"wcfs stop: {stop}");
        }
    }
}
