// DbTestBase - a fresh SQLite file per test class instance and helpers that speak the domain:
// "open the database", "a second connection", "reopen everything".
using Akka.Configuration;
using Wcfs.Actors.Db;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public abstract class DbTestBase : IAsyncLifetime
{
    private readonly List<Database> _databases = [];

    protected TempDirectory Dir { get; } = new("wcfs-db");

    protected string Url => "sqlite://" + Dir.File("wcfs.db");

    /// <summary>Config pointing data-dir and mount-root into this test's directory.</summary>
    protected Config TestConfig => ConfigurationFactory.ParseString(
        $"wcfs.data-dir = \"{Dir.File("data")}\"\nwcfs.mount-root = \"{Dir.File("mnt")}\"\nwcfs.virtmem.ram-limit = {RamLimitMiB}MiB\nwcfs.client.page-size = {PageSizeKiB}KiB");

    /// <summary>RAM budget of the virtmem actors in MiB.</summary>
    protected virtual long RamLimitMiB => 64;

    /// <summary>Dirty-page granularity in KiB.</summary>
    protected virtual long PageSizeKiB => 64;

    /// <summary>The WCFS sessions the databases of this test use (null: the default).</summary>
    private protected virtual IWcfsSessionFactory? Sessions => PendingWcfsSessions.Instance; // object-level tests: no WCFS server

    protected async Task<Database> OpenDatabaseAsync(string? url = null)
    {
        var db = await Database.OpenAsync(url ?? Url, new DatabaseOptions { Config = TestConfig, Sessions = Sessions });
        _databases.Add(db);
        return db;
    }

    /// <summary>Closes <paramref name="db"/> and opens the same storage again (a new process would see the same).</summary>
    protected async Task<Database> ReopenAsync(Database db)
    {
        await db.DisposeAsync();
        _databases.Remove(db);
        return await OpenDatabaseAsync();
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public virtual async Task DisposeAsync()
    {
        foreach (var db in _databases)
            await db.DisposeAsync();
        Dir.Dispose();
    }
}
