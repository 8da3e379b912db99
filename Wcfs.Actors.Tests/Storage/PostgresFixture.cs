// PostgresFixture - the PostgreSQL server of the storage tests.
//
// WCFS_TEST_POSTGRES_URL (set by scripts/test.sh) names a server whose user may CREATE DATABASE;
// when it is unset the fixture starts its own cluster (PostgresCluster) instead of skipping. Each
// test gets a fresh database (NewDatabase), dropped at the end. Tests that must restart the server
// or check passwords use OwnedCluster: the fixture's own cluster (started on first use when the
// main server came from the environment).
using Npgsql;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

public sealed class PostgresFixture : IDisposable
{
    private readonly List<(string ServerUrl, string Db)> _databases = [];
    private readonly Lazy<PostgresCluster> _owned;
    private readonly PostgresCluster? _main;
    private int _counter;

    public PostgresFixture()
    {
        var env = Environment.GetEnvironmentVariable("WCFS_TEST_POSTGRES_URL");
        if (string.IsNullOrWhiteSpace(env))
        {
            _main = PostgresCluster.Start();
            ServerUrl = _main.Url("postgres");
        }
        else
            ServerUrl = env;
        _owned = new Lazy<PostgresCluster>(() => _main ?? PostgresCluster.Start());
    }

    /// <summary>A URL of the test server (any database on it; NewDatabase replaces the path).</summary>
    public string ServerUrl { get; }

    /// <summary>A cluster this fixture started and may stop, restart and reconfigure.</summary>
    internal PostgresCluster OwnedCluster => _owned.Value;

    /// <summary>Creates an empty database on the test server and returns its URL.</summary>
    public string NewDatabase() => NewDatabaseOn(ServerUrl);

    /// <summary>Creates an empty database on the owned cluster and returns its URL.</summary>
    internal string NewOwnedDatabase() => NewDatabaseOn(OwnedCluster.Url("postgres"));

    private string NewDatabaseOn(string serverUrl)
    {
        var db = $"wcfs_t{Environment.ProcessId}_{Interlocked.Increment(ref _counter)}";
        Execute(serverUrl, $"CREATE DATABASE {db}");
        lock (_databases)
            _databases.Add((serverUrl, db));
        return WithDatabase(serverUrl, db);
    }

    /// <summary><paramref name="url"/> with its database replaced by <paramref name="db"/>.</summary>
    public static string WithDatabase(string url, string db)
    {
        var q = url.IndexOf('?');
        var query = q < 0 ? "" : url[q..];
        var head = q < 0 ? url : url[..q];
        var slash = head.IndexOf('/', head.IndexOf("://", StringComparison.Ordinal) + 3);
        return (slash < 0 ? head : head[..slash]) + "/" + db + query;
    }

    /// <summary>Runs SQL on the database of <paramref name="url"/> (a fresh, unpooled connection).</summary>
    public static void Execute(string url, string sql)
    {
        using var conn = Connect(url);
        using var cmd = new NpgsqlCommand(sql, conn);
        cmd.ExecuteNonQuery();
    }

    /// <summary>Runs a scalar query on the database of <paramref name="url"/>.</summary>
    public static object? Scalar(string url, string sql)
    {
        using var conn = Connect(url);
        using var cmd = new NpgsqlCommand(sql, conn);
        return cmd.ExecuteScalar();
    }

    /// <summary>An open, unpooled connection to <paramref name="url"/>.</summary>
    public static NpgsqlConnection Connect(string url)
    {
        var b = new NpgsqlConnectionStringBuilder(PostgresUrl.Parse(url).Settings.ConnectionString) { Pooling = false };
        var conn = new NpgsqlConnection(b.ConnectionString);
        conn.Open();
        return conn;
    }

    public void Dispose()
    {
        foreach (var (server, db) in _databases)
        {
            try { Execute(server, $"DROP DATABASE IF EXISTS {db} WITH (FORCE)"); }
            catch (NpgsqlException) { /* the server is gone with its cluster, or will be reset by CI */ }
        }
        if (_owned.IsValueCreated && _owned.Value != _main)
            _owned.Value.Dispose();
        _main?.Dispose();
    }
}

[CollectionDefinition("postgres")]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>;
