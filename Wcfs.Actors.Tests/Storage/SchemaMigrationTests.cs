// Schema migrations on databases made by older code (Storage/Fixtures/README.md): SQLite 1 → 3 and
// 2 → 3, PostgreSQL 1 → 3 and 2 → 3. Every version of every block reads back as it did, and the database then
// behaves as a current one.
using System.IO.Compression;
using System.Text;
using Microsoft.Data.Sqlite;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

/// <summary>What the fixtures hold (Fixtures/README.md), checked against a migrated storage.</summary>
internal static class SchemaOneFixture
{
    public static readonly Oid A = new(1), B = new(2);

    public static string Path(string name) => System.IO.Path.Combine(AppContext.BaseDirectory, "Storage", "Fixtures", name);

    public static byte[] Gunzip(string name)
    {
        using var gz = new GZipStream(File.OpenRead(Path(name)), CompressionMode.Decompress);
        using var m = new MemoryStream();
        gz.CopyTo(m);
        return m.ToArray();
    }

    private static byte[] P(int s, int n)
    {
        var b = new byte[n];
        for (var i = 0; i < n; i++)
            b[i] = (byte)((7 * i + s) % 251 + 1);
        return b;
    }

    private static byte[] Block(int size, byte[]? data)
    {
        var b = new byte[size];
        data?.CopyTo(b, 0);
        return b;
    }

    /// <summary>Checks every block version of the fixture's history in <paramref name="s"/>.</summary>
    public static async Task AssertHistoryAsync(IStorage s)
    {
        var tids = new List<Tid>();
        using var cts = new CancellationTokenSource(TestTimeouts.Default);
        await foreach (var c in s.Changes(Tid.Zero, cts.Token))
        {
            tids.Add(c.Tid);
            if (tids.Count == 6)
                break;
        }
        Assert.Equal(tids[5], s.LastTid);
        var root = (RootState)s.LoadObject(Oid.Root, Tid.Max)!.State;
        Assert.Equal(A, root.Names["a"]);
        Assert.Equal(B, root.Names["b"]);
        Assert.Equal(new ZBigFileState(128 << 10), s.LoadObject(A, Tid.Max)!.State);
        Assert.Equal(new ZBigFileState(4096), s.LoadObject(B, tids[1])!.State);
        Assert.Null(s.LoadObject(B, tids[0]));

        const int a = 128 << 10;
        void Expect(Oid file, int size, long blk, Tid at, byte[]? data, Tid? serial)
        {
            var buf = new byte[size];
            buf.AsSpan().Fill(0xEE);
            Assert.Equal(serial, s.ReadBlock(file, blk, at, buf));
            Assert.Equal(Block(size, data), buf);
        }
        Expect(A, a, 0, tids[1], null, null);
        Expect(A, a, 0, tids[2], P(0, 100000), tids[2]);
        Expect(A, a, 1, tids[2], "hello"u8.ToArray(), tids[2]);
        Expect(A, a, 0, tids[3], P(1, 100000), tids[3]);
        Expect(A, a, 1, tids[3], "hello"u8.ToArray(), tids[2]);
        Expect(A, a, 1, tids[4], null, tids[4]);
        Expect(B, 4096, 3, tids[4], "x"u8.ToArray(), tids[4]);
        Expect(B, 4096, 3, tids[3], null, null);
        Expect(A, a, 2, tids[5], null, tids[5]);
        Expect(A, a, 0, Tid.Max, P(1, 100000), tids[3]);
        Assert.Equal(2, s.LastBlock(A, Tid.Max));
        Assert.Equal(1, s.LastBlock(A, tids[4]));
        Assert.Equal(3, s.LastBlock(B, Tid.Max));

        // Only the chunks that changed were kept: block 0's second version differs in both of its
        // 64 KiB chunks (P(1) vs P(0)), so history holds both chunks of the first.
        var usage = s.Usage().ToDictionary(u => u.File);
        Assert.Equal(100000L + 0 + 0, usage[A].HeadBytes);
        Assert.Equal(100000L + 5, usage[A].HistoryBytes);
        Assert.Equal(1L, usage[B].HeadBytes);

        // And it is a working current storage now.
        var t = s.Commit(s.LastTid, [], [new BlockWrite(A, 0, P(1, 100001))]);
        Expect(A, a, 0, t, P(1, 100001), t);
        Expect(A, a, 0, tids[3], P(1, 100000), tids[3]);
    }
}

public sealed class SqliteSchemaMigrationTests : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-migrate");

    public void Dispose() => _dir.Dispose();

    private string FixtureCopy()
    {
        var path = _dir.File("v1.db");
        File.WriteAllBytes(path, SchemaOneFixture.Gunzip("sqlite-schema1.db.gz"));
        return path;
    }

    [Fact]
    public async Task A_schema_1_database_is_migrated_in_place_and_every_version_reads_back()
    {
        var path = FixtureCopy();
        Assert.Equal(1L, SqliteFile.Scalar(path, "PRAGMA user_version"));
        using (var s = StorageFactory.Open(path))
            await SchemaOneFixture.AssertHistoryAsync(s);
        SqliteConnection.ClearAllPools();
        Assert.Equal(3L, SqliteFile.Scalar(path, "PRAGMA user_version"));
        Assert.Equal(3L, SqliteFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema'"));
        Assert.Equal(0L, SqliteFile.Scalar(path, "SELECT count(*) FROM sqlite_master WHERE name = 'blk'"));
        using var again = StorageFactory.Open(path); // a migrated database opens as a current one
        Assert.Equal(65536, ((SqliteStorage)again).ChunkSize);
    }

    [Fact]
    public async Task A_schema_2_database_is_migrated_in_place_and_every_version_reads_back()
    {
        var path = _dir.File("v2.db");
        File.WriteAllBytes(path, SchemaOneFixture.Gunzip("sqlite-schema2.db.gz"));
        Assert.Equal(2L, SqliteFile.Scalar(path, "PRAGMA user_version"));
        var rows = SqliteFile.Scalar(path, "SELECT count(*) FROM chunk");
        using (var s = StorageFactory.Open(path))
            await SchemaOneFixture.AssertHistoryAsync(s);
        SqliteConnection.ClearAllPools();
        Assert.Equal(3L, SqliteFile.Scalar(path, "PRAGMA user_version"));
        Assert.Equal(3L, SqliteFile.Scalar(path, "SELECT value FROM meta WHERE key = 'schema'"));
        // The old rows stay, as whole versions; AssertHistoryAsync's last commit appended one byte
        // to block 0 of file a (100,000 → 100,001 bytes): one delta over its second chunk.
        const string old = "tid < (SELECT max(tid) FROM txn)";
        Assert.Equal(rows, SqliteFile.Scalar(path, $"SELECT count(*) FROM chunk WHERE {old} AND off IS NULL AND depth = 0"));
        Assert.Equal(rows, SqliteFile.Scalar(path, $"SELECT count(*) FROM chunk WHERE {old}"));
        Assert.Equal(1L, SqliteFile.Scalar(path, "SELECT count(*) FROM chunk WHERE NOT (" + old + ")"));
        Assert.Equal(1L, SqliteFile.Scalar(path, $"SELECT count(*) FROM chunk WHERE NOT ({old}) AND chunk = 1 AND off = {100000 - 65536} AND depth = 1 AND length(data) = 1"));
    }

    [Fact]
    public void A_schema_1_file_without_its_block_table_is_refused_and_left_untouched()
    {
        var path = FixtureCopy();
        using (var c = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "DROP TABLE blk";
            cmd.ExecuteNonQuery();
        }
        SqliteConnection.ClearAllPools();
        var bytes = File.ReadAllBytes(path);
        var e = Assert.Throws<StorageException>(() => StorageFactory.Open(path).Dispose());
        Assert.Contains("no blk table", e.Message);
        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void The_chunk_size_option_applies_to_a_new_database_and_an_invalid_one_is_refused()
    {
        using (var s = (SqliteStorage)StorageFactory.Open(_dir.File("c.db"), new StorageOptions { ChunkSize = 4096 }))
            Assert.Equal(4096, s.ChunkSize);
        using (var s = (SqliteStorage)StorageFactory.Open(_dir.File("c.db"), new StorageOptions { ChunkSize = 8192 }))
            Assert.Equal(4096, s.ChunkSize); // recorded at creation
        var e = Assert.Throws<ArgumentException>(() => StorageFactory.Open(_dir.File("d.db"), new StorageOptions { ChunkSize = 3000 }));
        Assert.Contains("power of two", e.Message);
        Assert.False(File.Exists(_dir.File("d.db")));
    }

    [Fact]
    public void The_chunk_size_setting_defaults_to_64KiB_and_a_bad_value_names_the_key()
    {
        Assert.Equal(65536, StorageOptions.FromConfig(null).ChunkSize);
        Assert.Equal(4096, StorageOptions.FromConfig(Akka.Configuration.ConfigurationFactory.ParseString("wcfs.history.chunk-size = 4KiB")).ChunkSize);
        var e = Assert.Throws<Akka.Configuration.ConfigurationException>(() =>
            StorageOptions.FromConfig(Akka.Configuration.ConfigurationFactory.ParseString("wcfs.history.chunk-size = 3000")));
        Assert.Contains("wcfs.history.chunk-size", e.Message);
    }
}

[Collection("postgres")]
public sealed class PostgresSchemaMigrationTests(PostgresFixture pg)
{
    [Fact]
    public async Task A_schema_1_database_is_migrated_in_place_and_every_version_reads_back()
    {
        var url = pg.NewDatabase();
        PostgresFixture.Execute(url, Encoding.UTF8.GetString(SchemaOneFixture.Gunzip("postgres-schema1.sql.gz")));
        Assert.Equal("1", PostgresFixture.Scalar(url, "SELECT value FROM wcfs_meta WHERE key = 'schema_version'"));
        using (var s = StorageFactory.Open(url))
            await SchemaOneFixture.AssertHistoryAsync(s);
        Assert.Equal("3", PostgresFixture.Scalar(url, "SELECT value FROM wcfs_meta WHERE key = 'schema_version'"));
        Assert.Equal(0L, PostgresFixture.Scalar(url, "SELECT count(*) FROM pg_class WHERE relname = 'wcfs_blocks_v1'"));
        using var again = (PostgresStorage)StorageFactory.Open(url);
        Assert.Equal(65536, again.ChunkSize);
    }

    [Fact]
    public async Task A_schema_2_database_is_migrated_in_place_and_every_version_reads_back()
    {
        var url = pg.NewDatabase();
        PostgresFixture.Execute(url, Encoding.UTF8.GetString(SchemaOneFixture.Gunzip("postgres-schema2.sql.gz")));
        Assert.Equal("2", PostgresFixture.Scalar(url, "SELECT value FROM wcfs_meta WHERE key = 'schema_version'"));
        var rows = Convert.ToInt64(PostgresFixture.Scalar(url, "SELECT count(*) FROM wcfs_chunks"), System.Globalization.CultureInfo.InvariantCulture);
        using (var s = StorageFactory.Open(url))
            await SchemaOneFixture.AssertHistoryAsync(s);
        Assert.Equal("3", PostgresFixture.Scalar(url, "SELECT value FROM wcfs_meta WHERE key = 'schema_version'"));
        // The old rows stay whole; AssertHistoryAsync's last commit appended one byte to block 0 of
        // file a (100,000 → 100,001 bytes): an append delta over its second chunk.
        Assert.Equal(rows, Convert.ToInt64(PostgresFixture.Scalar(url, "SELECT count(*) FROM wcfs_chunks WHERE off IS NULL AND depth = 0 AND tid < (SELECT max(tid) FROM wcfs_chunks)"), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(1L, Convert.ToInt64(PostgresFixture.Scalar(url, $"SELECT count(*) FROM wcfs_chunks WHERE tid = (SELECT max(tid) FROM wcfs_chunks) AND chunk = 1 AND off = {100000 - 65536} AND depth = 1 AND octet_length(data) = 1"), System.Globalization.CultureInfo.InvariantCulture));
    }
}
