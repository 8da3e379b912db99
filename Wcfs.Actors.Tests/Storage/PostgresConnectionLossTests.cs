// PostgresConnectionLossTests - a commit whose connection breaks finds out whether it landed
// before it reports (commit token); a restarted server is reconnected to and the change stream
// catches up on what it missed.
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

[Collection("postgres")]
public sealed class PostgresConnectionLossTests(PostgresFixture pg)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30) * PostgresTestHelpers.TimeoutFactor;

    [Fact]
    public void A_commit_whose_reply_is_lost_is_found_landed_and_returns_its_tid()
    {
        var url = pg.NewDatabase();
        using var proxy = ProxyFor(url, out var proxied);
        using var s = PostgresStorage.Open(proxied);
        var file = s.NewFile();
        var before = s.LastTid;
        var hookCalls = 0;
        s.BeforeCommitHook = () =>
        {
            if (hookCalls++ == 0)
                proxy.DropNextReply(); // COMMIT reaches the server; its reply never comes back
        };

        var tid = s.CommitBlocks(before, file, (0, "landed"));

        Assert.Equal(1, proxy.CutConnections);
        Assert.Equal(1, hookCalls); // found landed: not committed a second time
        using var direct = PostgresStorage.Open(url);
        Assert.Equal(tid, direct.LastTid);
        Assert.Equal("landed", direct.ReadText(file, 0, tid));
        Assert.Equal(1L, CommitsAfter(url, before));
    }

    [Fact]
    public void A_commit_cut_before_COMMIT_did_not_land_and_is_made_once_on_a_new_connection()
    {
        var url = pg.NewDatabase();
        using var proxy = ProxyFor(url, out var proxied);
        using var s = PostgresStorage.Open(proxied);
        var file = s.NewFile();
        var before = s.LastTid;
        var hookCalls = 0;
        s.BeforeCommitHook = () =>
        {
            if (hookCalls++ == 0)
                proxy.CutAll(); // the transaction dies with its connection
        };

        var tid = s.CommitBlocks(before, file, (0, "retried"));

        Assert.Equal(2, hookCalls);
        using var direct = PostgresStorage.Open(url);
        Assert.Equal(tid, direct.LastTid);
        Assert.Equal("retried", direct.ReadText(file, 0, tid));
        Assert.Equal(1L, CommitsAfter(url, before));
    }

    [Fact]
    public void A_commit_whose_server_stays_unreachable_reports_its_outcome_unknown_with_its_token()
    {
        var url = pg.NewDatabase();
        using var proxy = ProxyFor(url, out var proxied);
        using var s = PostgresStorage.Open(proxied, new PostgresStorageOptions { ReconnectTimeout = TimeSpan.FromSeconds(2) });
        var file = s.NewFile();
        var before = s.LastTid;
        s.BeforeCommitHook = () =>
        {
            proxy.Refusing = true;
            proxy.CutAll();
        };

        var e = Assert.Throws<StorageException>(() => s.CommitBlocks(before, file, (0, "lost")));

        Assert.Contains("commit outcome unknown", e.Message, StringComparison.Ordinal);
        Assert.Contains("commit token", e.Message, StringComparison.Ordinal);
        Assert.Contains(PostgresUrl.Parse(proxied).Url, e.Message, StringComparison.Ordinal);
        Assert.Equal(0L, CommitsAfter(url, before)); // (it did not land: COMMIT was never sent)
    }

    [Fact]
    public async Task After_a_server_restart_storages_reconnect_and_the_change_stream_catches_up()
    {
        var url = pg.NewOwnedDatabase();
        using var proxy = ProxyFor(url, out var proxied); // the watcher's way to the server, closed during the restart
        using var watcher = PostgresStorage.Open(proxied, new PostgresStorageOptions { PollInterval = TimeSpan.FromHours(1) });
        using var writer = PostgresStorage.Open(url);
        var file = writer.NewFile();
        var start = writer.LastTid;
        var t1 = writer.CommitBlocks(start, file, (0, "before"));
        var reader = Task.Run(() => PostgresTestHelpers.ReadChanges(watcher, start, 3, Timeout));
        PostgresTestHelpers.WaitUntil(() => PostgresTestHelpers.IdleListeners(url) > 0, Timeout, "the watcher to LISTEN and wait");

        proxy.Refusing = true; // the watcher cannot reconnect until the commits below have landed
        proxy.CutAll();
        pg.OwnedCluster.StopServer();
        pg.OwnedCluster.StartServer();
        // The writer's pooled connections died with the server (it reconnects directly).
        var t2 = writer.CommitBlocks(t1, file, (1, "after"));
        var t3 = writer.CommitBlocks(t2, file, (0, "after-2"));
        // Nobody LISTENed when they committed, so their NOTIFYs reached no one: the watcher can
        // get them only by the catch-up query that follows its reconnect.
        Assert.Equal(0L, PostgresTestHelpers.Listeners(url));
        proxy.Refusing = false;

        Assert.Equal([t1, t2, t3], (await reader).Select(r => r.Tid));
        Assert.Equal("after-2", watcher.ReadText(file, 0, Tid.Max));
        Assert.Equal("after", watcher.ReadText(file, 1, t3));
    }

    private static long CommitsAfter(string url, Tid tid) =>
        (long)PostgresFixture.Scalar(url, $"SELECT count(*) FROM wcfs_commits WHERE tid > {PostgresStorage.Db(tid)}")!;

    internal static PostgresCutProxy ProxyFor(string url, out string proxied)
    {
        var settings = PostgresUrl.Parse(url).Settings;
        var proxy = new PostgresCutProxy(settings.Host!, settings.Port);
        var scheme = url.IndexOf("://", StringComparison.Ordinal) + 3;
        var at = url.IndexOf('@', scheme);
        var slash = url.IndexOf('/', scheme);
        proxied = url[..(at + 1)] + $"127.0.0.1:{proxy.Port}" + url[slash..];
        return proxy;
    }
}
