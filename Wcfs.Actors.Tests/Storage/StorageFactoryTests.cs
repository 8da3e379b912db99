using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

public sealed class StorageFactoryTests
{
    [Theory]
    [InlineData("sqlite:///var/lib/x.db", "/var/lib/x.db")]
    [InlineData("SQLITE:///a/b.db", "/a/b.db")]
    [InlineData("/abs/plain.db", "/abs/plain.db")]
    public void Sqlite_urls_and_plain_paths_name_an_absolute_file(string url, string path)
    {
        Assert.Equal(new StorageTarget(StorageKind.Sqlite, path), StorageFactory.Parse(url));
    }

    [Fact]
    public void A_relative_plain_path_is_taken_from_the_current_directory()
    {
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "rel.db"), StorageFactory.Parse("rel.db").Location);
    }

    [Fact]
    public void A_sqlite_url_with_a_relative_path_is_refused()
    {
        var e = Assert.Throws<StorageException>(() => StorageFactory.Parse("sqlite://relative.db"));
        Assert.Contains("sqlite:///absolute/path.db", e.Message);
    }

    [Theory]
    [InlineData("postgresql://u:secret@localhost:5432/db")]
    [InlineData("postgres://u@localhost/db")]
    public void Postgres_urls_are_recognized(string url)
    {
        Assert.Equal(StorageKind.Postgres, StorageFactory.Parse(url).Kind);
    }

    [Fact]
    public void An_unknown_scheme_is_refused_naming_the_scheme()
    {
        var e = Assert.Throws<StorageException>(() => StorageFactory.Open("mysql://u:pw@host/db"));
        Assert.Contains("unknown storage URL scheme \"mysql\"", e.Message);
        Assert.DoesNotContain("pw", e.Message);
    }

    [Fact]
    public void An_empty_url_is_refused()
    {
        Assert.Throws<StorageException>(() => StorageFactory.Open("  "));
    }

    [Fact]
    public void Passwords_are_redacted_from_urls()
    {
        Assert.Equal("postgresql://user:***@host:5432/db", StorageFactory.Redact("postgresql://user:secret@host:5432/db"));
        Assert.Equal("postgresql://user@host/db", StorageFactory.Redact("postgresql://user@host/db"));
    }
}
