// WcfsDbTestBase - the fixture of the Database-over-WCFS test classes: a real `wcfs serve` child
// process per test (ServerProcess), databases opened against its mountpoint (autostart off), and
// teardown that always stops the server and removes its mount, even when closing a database throws.
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Tests.Server;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public abstract class WcfsDbTestBase : IAsyncLifetime
{
    /// <summary>The block size of the test files (the default 2 MiB: page = block).</summary>
    protected const int Block = 2 << 20;

    private ServerProcess? _server;

    /// <summary>Databases to close at teardown (a test may remove one it closed itself).</summary>
    protected List<Database> Dbs { get; } = [];

    /// <summary>The server of this test.</summary>
    private protected ServerProcess Server => _server!;

    public async Task InitializeAsync() => _server = await ServerProcess.StartAsync();

    public async Task DisposeAsync()
    {
        try
        {
            foreach (var db in Dbs)
                await db.DisposeAsync();
        }
        finally
        {
            if (_server is not null)
                await _server.DisposeAsync(); // always: stops the (restarted) server, removes the mount
        }
    }

    /// <summary>A database on the test server's storage whose connections join that server.</summary>
    /// <param name="reattach">wcfs.client.reattach-timeout of its client (default: reference.conf's).</param>
    protected async Task<Database> OpenDatabaseAsync(TimeSpan? reattach = null)
    {
        var db = await Database.OpenAsync(Server.Url, new DatabaseOptions
        {
            Wcfs = new WcfsClientOptions { Mountpoint = Server.Mountpoint, Autostart = false, ReattachTimeout = reattach },
            Config = Akka.Configuration.ConfigurationFactory.ParseString($"wcfs.mount-root = \"{Server.Dir}\""),
        });
        Dbs.Add(db);
        return db;
    }
}
