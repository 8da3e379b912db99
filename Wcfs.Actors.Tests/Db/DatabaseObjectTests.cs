using Wcfs.Actors.Configuration;
// Objects of a Database through real SQLite files: persistence across reopen, root names, new files.
using Akka.Configuration;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class DatabaseObjectTests : DbTestBase
{
    [Fact]
    public async Task A_file_stored_under_a_root_name_is_found_again_after_the_database_is_reopened()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(conn, 64 << 10);
        conn.Root["f"] = f;
        var tid = await conn.CommitAsync();
        Assert.Equal(tid, conn.At);
        Assert.False(f.IsNew);

        db = await ReopenAsync(db);
        var conn2 = await db.OpenConnectionAsync();
        Assert.Equal(tid, conn2.At);
        var g = conn2.Root.Get<ZBigFile>("f");
        Assert.Equal(f.Oid, g.Oid);
        Assert.Equal(64 << 10, g.BlockSize);
        Assert.Equal(["f"], conn2.Root.Keys);
    }

    [Fact]
    public async Task A_new_file_gets_its_oid_at_creation_and_is_invisible_to_others_until_commit()
    {
        var db = await OpenDatabaseAsync();
        var a = await db.OpenConnectionAsync();
        var b = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(a);
        Assert.NotEqual(Oid.Root, f.Oid);
        Assert.Equal(ZBigFile.DefaultBlockSize, f.BlockSize);
        a.Root["f"] = f;
        Assert.False(b.Root.ContainsKey("f"));
        Assert.Null(db.Storage.LoadObject(f.Oid, db.Storage.LastTid));

        await a.CommitAsync();
        Assert.False(b.Root.ContainsKey("f")); // b keeps its snapshot until its own transaction boundary
        await b.AbortAsync();
        Assert.Equal(f.Oid, b.Root.Get<ZBigFile>("f").Oid);
    }

    [Fact]
    public async Task Opening_a_file_before_its_first_commit_says_to_commit_first()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(conn);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => f.OpenAsync());
        Assert.Contains("commit first", e.Message);
    }

    [Fact]
    public async Task Objects_created_in_an_aborted_transaction_are_never_stored_and_refuse_further_use()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        var before = conn.At;
        var f = ZBigFile.Create(conn);
        conn.Root["f"] = f;
        await conn.AbortAsync();

        Assert.False(conn.Root.ContainsKey("f"));
        Assert.Equal(before, db.Storage.LastTid);
        Assert.Null(db.Storage.LoadObject(f.Oid, db.Storage.LastTid));
        var e = Assert.Throws<InvalidOperationException>(() => conn.Root["g"] = f);
        Assert.Contains("aborted", e.Message);
    }

    [Fact]
    public async Task A_commit_without_changes_writes_nothing_and_moves_to_the_latest_revision()
    {
        var db = await OpenDatabaseAsync();
        var a = await db.OpenConnectionAsync();
        var b = await db.OpenConnectionAsync();
        a.Root["f"] = ZBigFile.Create(a);
        var t1 = await a.CommitAsync();

        var t2 = await b.CommitAsync();
        Assert.Equal(t1, t2);
        Assert.Equal(t1, db.Storage.LastTid);
        Assert.True(b.Root.ContainsKey("f"));
    }

    [Fact]
    public async Task Root_names_can_be_removed_and_rebound_transactionally()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(conn);
        conn.Root["x"] = f;
        conn.Root["y"] = f;
        await conn.CommitAsync();

        Assert.True(conn.Root.Remove("x"));
        Assert.False(conn.Root.Remove("nope"));
        await conn.AbortAsync();
        Assert.Equal(["x", "y"], conn.Root.Keys);

        conn.Root.Remove("x");
        await conn.CommitAsync();
        Assert.Equal(["y"], conn.Root.Keys);
        Assert.Same(f, conn.Root.Get<ZBigFile>("y")); // one instance per oid per connection
    }

    [Fact]
    public async Task Asking_for_a_missing_name_or_the_wrong_type_names_the_problem()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        conn.Root["f"] = ZBigFile.Create(conn);
        conn.Root["a"] = ZBigArray<double>.Create(conn, [3]);
        await conn.CommitAsync();

        Assert.Contains("'missing'", Assert.Throws<KeyNotFoundException>(() => conn.Root.Get<ZBigFile>("missing")).Message);
        Assert.False(conn.Root.TryGet<ZBigFile>("missing", out _));
        Assert.Contains("not a ZBigArray`1", Assert.Throws<InvalidCastException>(() => conn.Root.Get<ZBigArray<double>>("f")).Message);
        Assert.Contains("float64", Assert.Throws<InvalidCastException>(() => conn.Root.Get<ZBigArray<int>>("a")).Message);
        Assert.IsType<ZBigArray<double>>(conn.Root["a"]); // untyped: the element type comes from the stored dtype
    }

    [Fact]
    public async Task An_object_of_another_connection_cannot_be_stored_under_a_name()
    {
        var db = await OpenDatabaseAsync();
        var a = await db.OpenConnectionAsync();
        var b = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(a);
        var e = Assert.Throws<ArgumentException>(() => b.Root["f"] = f);
        Assert.Contains("another connection", e.Message);
    }

    [Fact]
    public async Task Invalid_block_sizes_are_refused_naming_the_size()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        Assert.Contains("3000", Assert.Throws<ArgumentException>(() => ZBigFile.Create(conn, 3000)).Message);
        Assert.Contains("134217728", Assert.Throws<ArgumentException>(() => ZBigFile.Create(conn, 128 << 20)).Message);
    }

    [Fact]
    public async Task A_database_opens_with_no_options_at_all()
    {
        await using var db = await Database.OpenAsync(Url);
        Assert.Equal(WcfsSettings.Default.Autostart, db.Settings.Autostart);
        Assert.Contains(Url.Replace("sqlite://", "", StringComparison.Ordinal), db.Url);
    }

    [Fact]
    public async Task An_empty_url_opens_the_embedded_default_sqlite_database_in_the_data_dir()
    {
        await using var db = await Database.OpenAsync("", new DatabaseOptions { Config = TestConfig, Sessions = PendingWcfsSessions.Instance });
        Assert.Contains(Dir.File("data"), db.Url);
        Assert.True(File.Exists(Path.Combine(Dir.File("data"), "wcfs.db")));
        var conn = await db.OpenConnectionAsync();
        conn.Root["f"] = ZBigFile.Create(conn);
        Assert.NotEqual(Tid.Zero, await conn.CommitAsync());
    }

    [Fact]
    public async Task A_bad_url_fails_at_open_naming_the_scheme()
    {
        var e = await Assert.ThrowsAsync<StorageException>(() => Database.OpenAsync("mysql://x/y", new DatabaseOptions { Config = TestConfig, Sessions = PendingWcfsSessions.Instance }));
        Assert.Contains("mysql", e.Message);
    }

    [Fact]
    public async Task An_array_keeps_shape_order_dtype_and_file_across_reopen()
    {
        var db = await OpenDatabaseAsync();
        var conn = await db.OpenConnectionAsync();
        var a = ZBigArray<float>.Create(conn, [4, 5, 6], ArrayOrder.Fortran, blockSize: 64 << 10);
        conn.Root["a"] = a;
        await conn.CommitAsync();
        var fileOid = a.File.Oid;

        db = await ReopenAsync(db);
        var b = (await db.OpenConnectionAsync()).Root.Get<ZBigArray<float>>("a");
        Assert.Equal(new long[] { 4L, 5, 6 }, b.Shape.ToArray());
        Assert.Equal(ArrayOrder.Fortran, b.Order);
        Assert.Equal(120, b.Length);
        Assert.Equal("float32", b.Dtype);
        Assert.Equal(fileOid, b.File.Oid);
        Assert.Equal(64 << 10, b.File.BlockSize);
    }

    [Fact]
    public async Task Settings_errors_fail_at_open_naming_the_key()
    {
        var bad = ConfigurationFactory.ParseString("wcfs.client.page-size = 3KiB").WithFallback(TestConfig);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => Database.OpenAsync(Url, new DatabaseOptions { Config = bad, Sessions = PendingWcfsSessions.Instance }));
        Assert.Contains("wcfs.client.page-size", e.Message);
    }
}
