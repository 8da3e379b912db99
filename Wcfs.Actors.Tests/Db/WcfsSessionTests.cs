// A Connection keeps one WCFS Conn in sync with it — against a real `wcfs serve` child process
// (real FUSE mount, real SQLite): commit/abort return only after the Conn moved to the new At,
// close and database dispose release the Conn's watch link (.wcfs/stats back to 0).
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class WcfsSessionTests : IAsyncLifetime
{
    private ServerProcess? _server;

    private ServerProcess Server => _server!;

    public async Task InitializeAsync() => _server = await ServerProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
            await _server.DisposeAsync();
    }

    private Task<Database> OpenDatabaseAsync() =>
        Database.OpenAsync(Server.Url, new DatabaseOptions
        {
            Wcfs = new WcfsClientOptions { Mountpoint = Server.Mountpoint, Autostart = false },
            Config = Akka.Configuration.ConfigurationFactory.ParseString($"wcfs.mount-root = \"{Server.Dir}\""),
        });

    /// <summary>Waits (bounded) until .wcfs/stats shows <paramref name="value"/> for <paramref name="name"/>.</summary>
    private async Task ExpectStatAsync(string name, long value)
    {
        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        while (Server.Stat(name) != value)
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($".wcfs/stats {name} is {Server.Stat(name)}, expected {value}:\n{Server.Stats()}");
            await Task.Delay(10); // why: the server drops a closed link asynchronously; stats have no change event
        }
    }

    [Fact]
    public async Task Commit_and_abort_return_only_after_the_connections_wcfs_conn_moved_to_the_new_revision()
    {
        await using var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        Assert.Equal(c.At, c.WcfsSession!.At);
        c.Root["f"] = ZBigFile.Create(c, 64 << 10);

        var t1 = await c.CommitAsync();
        Assert.Equal(t1, c.WcfsSession!.At);
        Assert.True(Server.HeadAt() >= t1);

        var other = await db.OpenConnectionAsync();
        other.Root["g"] = ZBigFile.Create(other, 64 << 10);
        var t2 = await other.CommitAsync();
        await c.AbortAsync();
        Assert.Equal(t2, c.WcfsSession!.At);
        await ExpectStatAsync("WatchLink", 2);
    }

    [Fact]
    public async Task Closing_a_connection_and_the_database_releases_the_wcfs_conn_and_reuse_reconnects_at_the_latest_revision()
    {
        var db = await OpenDatabaseAsync();
        try
        {
            var c = await db.OpenConnectionAsync();
            await ExpectStatAsync("WatchLink", 1);
            await c.DisposeAsync();
            await ExpectStatAsync("WatchLink", 0);

            var w = await db.OpenConnectionAsync();
            w.Root["f"] = ZBigFile.Create(w, 64 << 10);
            var t = await w.CommitAsync();
            await w.DisposeAsync();
            var again = await db.OpenConnectionAsync();
            Assert.Same(c, again);
            Assert.Equal(t, again.At);
            Assert.Equal(t, again.WcfsSession!.At);
            await ExpectStatAsync("WatchLink", 1);
        }
        finally
        {
            await db.DisposeAsync();
        }
        await ExpectStatAsync("WatchLink", 0);
        await ExpectStatAsync("Watch", 0);
    }
}
