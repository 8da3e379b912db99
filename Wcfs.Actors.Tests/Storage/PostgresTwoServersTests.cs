// PostgresTwoServersTests - "two machines" (issue 8): two WCFS servers, each on its own mountpoint,
// serve one PostgreSQL database. A commit made through one side reaches the other server's head/
// within milliseconds (LISTEN/NOTIFY), isolation holds there (an older watch keeps its snapshot
// and gets its pins), and a new connection there sees the commit.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Xunit;
using Xunit.Abstractions;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Storage;

[Collection("postgres")]
public sealed class PostgresTwoServersTests(PostgresFixture pg, ITestOutputHelper output)
{
    [Fact]
    public async Task Two_servers_on_one_database_isolate_an_old_watch_and_show_a_commit_to_new_connections()
    {
        var url = pg.NewDatabase();
        using var storage = StorageFactory.Open(url);
        var f = storage.NewOid();
        storage.Commit(storage.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
        var at1 = Commit(storage, f, (0, "a1"), (1, "b1"));
        await using var a = await PostgresServer.StartAsync(url, storage.Url);
        await using var b = await PostgresServer.StartAsync(url, storage.Url);

        // A client of server B works at at1: it has read block 0 and watches the file at at1.
        Assert.Equal("a1", ReadBlock(b.HeadPath(f), 0));
        await using var old = new RawLink(b.Mountpoint);
        Assert.Empty(await old.WatchAsync(1, f, at1));

        // A client of server A commits.
        Assert.Equal("a1", ReadBlock(a.HeadPath(f), 0));
        var at2 = Commit(storage, f, (0, "a2"));
        var latency = await b.WaitHeadAtAsync(at2);
        await a.WaitHeadAtAsync(at2);
        Assert.Equal("a2", ReadBlock(a.HeadPath(f), 0));
        output.WriteLine($"commit → head/at on the other server: {latency.TotalMilliseconds:0.0} ms");

        // On B, the first access of block 0 through head pins the old watch to at1 first.
        var read = ReadBlockAsync(b.HeadPath(f), 0);
        var pin = LinkClient.ParsePin(await old.NextAsync());
        Assert.Equal((0L, $"@{at1}"), (pin.Blk, pin.Rev));
        Assert.False(read.IsCompleted, "the head read must wait for the pin's ack");
        old.Send($"{pin.Stream} ack");
        Assert.Equal("a2", await read.WaitAsync(Scaled(10)));
        Assert.Equal("a1", ReadBlock(b.RevPath(at1, f), 0)); // the old snapshot, as the pin says
        Assert.Equal("b1", ReadBlock(b.HeadPath(f), 1));
        Assert.True(await old.QuietAsync(0.2), "block 1 did not change: no pin");

        // A new connection on B sees the commit: its watch at the head needs no pins.
        Assert.Equal(at2, b.HeadAt());
        await using var fresh = new RawLink(b.Mountpoint);
        Assert.Empty(await fresh.WatchAsync(1, f, at2));
    }

    [Fact]
    public async Task Commits_reach_head_at_of_another_server_within_milliseconds()
    {
        var url = pg.NewDatabase();
        using var storage = StorageFactory.Open(url);
        var f = storage.NewOid();
        storage.Commit(storage.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
        await using var b = await PostgresServer.StartAsync(url, storage.Url);
        var ms = new List<double>();
        for (var i = 0; i < 20; i++)
        {
            var at = Commit(storage, f, (i % 4, $"v{i}"));
            ms.Add((await b.WaitHeadAtAsync(at)).TotalMilliseconds);
        }
        ms.Sort();
        output.WriteLine($"commit → head/at on a server of another storage handle: p50 {ms[ms.Count / 2]:0.0} ms, max {ms[^1]:0.0} ms over {ms.Count}");
        // Generous on purpose (2 shared cores, parallel builds): the figure is printed; this only
        // catches a fallback to the 2 s polling (median ~1 s) instead of NOTIFY.
        Assert.True(ms[ms.Count / 2] < 250 * PostgresTestHelpers.TimeoutFactor, $"median {ms[ms.Count / 2]} ms: notifications are not arriving");
    }

    [Fact]
    public async Task A_server_survives_a_PostgreSQL_restart_and_catches_up_on_commits_made_meanwhile()
    {
        var url = pg.NewOwnedDatabase();
        Oid f;
        Tid at1;
        using (var storage = StorageFactory.Open(url))
        {
            f = storage.NewOid();
            storage.Commit(storage.LastTid, [new ObjectWrite(f, new ZBigFileState(4096))], []);
            at1 = Commit(storage, f, (0, "a1"));
        }
        using var proxy = PostgresConnectionLossTests.ProxyFor(url, out var proxied); // the server's way to the database
        await using var b = await PostgresServer.StartAsync(proxied, PostgresUrl.Parse(proxied).Url);
        await b.WaitHeadAtAsync(at1);
        Assert.Equal("a1", ReadBlock(b.HeadPath(f), 0));
        PostgresTestHelpers.WaitUntil(() => PostgresTestHelpers.IdleListeners(url) > 0, Scaled(30), "the server's change stream to LISTEN");

        var sw = Stopwatch.StartNew();
        proxy.Refusing = true; // the server cannot reconnect until the commit below has landed
        proxy.CutAll();
        pg.OwnedCluster.StopServer();
        pg.OwnedCluster.StartServer();
        output.WriteLine($"restart: {sw.ElapsedMilliseconds} ms");
        Tid at2;
        using (var storage = StorageFactory.Open(url))
            at2 = Commit(storage, f, (0, "a2"), (1, "b2"));
        output.WriteLine($"commit: {sw.ElapsedMilliseconds} ms");
        // Nobody LISTENed when it committed, so its NOTIFY reached no one: the server can get it only
        // by the catch-up query that follows its reconnect.
        Assert.Equal(0L, PostgresTestHelpers.Listeners(url));
        Assert.True(b.HeadAt() < at2);
        proxy.Refusing = false;

        await b.WaitHeadAtAsync(at2);
        output.WriteLine($"head/at: {sw.ElapsedMilliseconds} ms");
        Assert.Equal("a2", ReadBlock(b.HeadPath(f), 0)); // invalidated and read again from the restarted database
        Assert.Equal("b2", ReadBlock(b.HeadPath(f), 1));
        Assert.Equal("a1", ReadBlock(b.RevPath(at1, f), 0));
    }

    [Fact]
    public async Task A_PostgreSQL_URL_with_a_password_finds_the_mountpoint_whose_server_shows_the_storage_URL()
    {
        var url = pg.NewDatabase();
        var withPassword = url.Replace("postgres@", "postgres:any-pw@", StringComparison.Ordinal); // trust auth: not checked
        var root = Path.Combine(Path.GetTempPath(), "wcfs-pgroot-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        try
        {
            // the server is started with the URL without a password, at its standard mountpoint under root
            await using var server = await PostgresServer.StartAsync(url, PostgresUrl.Parse(url).Url, MountPoint.For(url, root));
            using var system = Akka.Actor.ActorSystem.Create("pg-join", Akka.Configuration.ConfigurationFactory
                .ParseString($"wcfs.mount-root = \"{root}\"\nwcfs.autostart = off").WithFallback(Wcfs.Actors.Configuration.WcfsSettings.Reference));
            await using var client = await Wcfs.Actors.Client.WcfsClient.JoinAsync(withPassword, new Wcfs.Actors.Client.WcfsClientOptions { System = system, Autostart = false });
            Assert.Equal(server.Mountpoint, client.Mountpoint);
            var shown = await File.ReadAllTextAsync(Path.Combine(client.Mountpoint, ".wcfs", "zurl"));
            Assert.Equal(MountPoint.NormalizeUrl(withPassword), shown);
            Assert.DoesNotContain("any-pw", shown, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Tid Commit(IStorage s, Oid f, params (long Blk, string Text)[] blocks) =>
        s.Commit(s.LastTid, [], [.. blocks.Select(b => new BlockWrite(f, b.Blk, Encoding.UTF8.GetBytes(b.Text)))]);

    /// <summary>A `wcfs serve` child process on a PostgreSQL URL with its own mountpoint.</summary>
    private sealed class PostgresServer : IAsyncDisposable
    {
        private readonly StringBuilder _log = new();
        private Process? _process;

        private PostgresServer(string dir, string? mountpoint)
        {
            Dir = dir;
            Mountpoint = mountpoint ?? Path.Combine(dir, "mnt");
        }

        public string Dir { get; }
        public string Mountpoint { get; }

        public static async Task<PostgresServer> StartAsync(string url, string expectedZurl, string? mountpoint = null)
        {
            var dir = Path.Combine(Path.GetTempPath(), "wcfs-pgsrv-" + Guid.NewGuid().ToString("N")[..12]);
            Directory.CreateDirectory(dir);
            var s = new PostgresServer(dir, mountpoint);
            try
            {
                // the one launcher: the URL (with its password) goes to a 0600 settings file, never the command line
                var request = new WcfsServer.Request(url, s.Mountpoint, WcfsSettings.Default.Server with { PinTimeout = TimeSpan.FromSeconds(60) })
                {
                    SettingsDirectory = dir,
                };
                var psi = WcfsServer.StartInfo(request, ServerProcess.Tool).StartInfo;
                psi.RedirectStandardError = true;
                psi.RedirectStandardOutput = true;
                s._process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
                s._process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (s._log) s._log.AppendLine(e.Data); };
                s._process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (s._log) s._log.AppendLine(e.Data); };
                s._process.BeginOutputReadLine();
                s._process.BeginErrorReadLine();
                var deadline = DateTime.UtcNow + Scaled(30);
                while (true)
                {
                    if (s._process.HasExited)
                        throw new InvalidOperationException($"wcfs serve exited with {s._process.ExitCode}:\n{s.Log}");
                    var (state, served) = await MountPoint.ProbeAsync(s.Mountpoint, Scaled(5));
                    if (state == ServerState.Running && served == expectedZurl)
                        return s;
                    if (DateTime.UtcNow > deadline)
                        throw new TimeoutException($"wcfs serve did not answer .wcfs/zurl with {expectedZurl} within 30s (got {state} {served}):\n{s.Log}");
                    await Task.Delay(20); // why: the mount appears asynchronously; no event to wait on
                }
            }
            catch
            {
                await s.DisposeAsync();
                throw;
            }
        }

        private string Log { get { lock (_log) return _log.ToString(); } }

        public string HeadPath(Oid f) => Path.Combine(Mountpoint, "head", "bigfile", f.ToString());

        public string RevPath(Tid at, Oid f) => Path.Combine(Mountpoint, "@" + at, "bigfile", f.ToString());

        public Tid HeadAt() => Tid.Parse(File.ReadAllText(Path.Combine(Mountpoint, "head", "at")));

        /// <summary>Waits until head/at shows at least <paramref name="at"/>; returns how long that took.</summary>
        public async Task<TimeSpan> WaitHeadAtAsync(Tid at)
        {
            var sw = Stopwatch.StartNew();
            while (HeadAt() < at)
            {
                if (sw.Elapsed > Scaled(15))
                    throw new TimeoutException($"head/at did not reach {at} within 15s (is {HeadAt()}):\n{Log}");
                await Task.Delay(1); // why: head/at has no change notification; poll its content (1 ms: it is also the measurement)
            }
            return sw.Elapsed;
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await StopAndUnmountAsync(_process, Mountpoint);
            }
            finally
            {
                _process?.Dispose();
                try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            }
        }
    }
}
