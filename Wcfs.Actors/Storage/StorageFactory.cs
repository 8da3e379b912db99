// StorageFactory - storage URLs (STORAGE.md §3, API.md §4) → an open IStorage.
//
// Accepted forms:
//   sqlite:///abs/path.db          SQLite; "sqlite://" followed by an absolute path
//   /abs/path.db, rel/path.db      SQLite; a plain path (relative to the current directory)
//   postgresql://user:pass@host:port/db   (also postgres://) PostgreSQL
// Anything else with a "scheme://" prefix is refused naming the scheme.
using System.Text.RegularExpressions;

namespace Wcfs.Actors.Storage;

/// <summary>Opens a storage by URL.</summary>
public static partial class StorageFactory
{
    /// <summary>
    /// Opens (creating a SQLite database if absent) the storage named by <paramref name="url"/>.
    /// </summary>
    /// <exception cref="StorageException">Bad URL, unknown scheme, foreign/corrupt/newer database, I/O failure.</exception>
    public static IStorage Open(string url, StorageOptions? options = null)
    {
        var target = Parse(url);
        if (options is { } o)
            BlockChunks.Validate(o.ChunkSize);
        return target.Kind switch
        {
            StorageKind.Sqlite => SqliteStorage.Open(target.Location, options),
            StorageKind.Postgres => OpenPostgres(target.Location, options),
            _ => throw new StorageException($"unsupported storage kind {target.Kind}"),
        };
    }

    /// <summary>
    /// Opens the storage named by <paramref name="url"/> only if it exists: for read-only uses (the
    /// CLI's cat, ls, debug commands), which must never create a database or its directory.
    /// </summary>
    /// <exception cref="StorageException">No SQLite database at the path (one line naming it), or as <see cref="Open"/>.</exception>
    public static IStorage OpenExisting(string url)
    {
        var target = Parse(url);
        if (target.Kind == StorageKind.Sqlite && !File.Exists(target.Location))
            throw new StorageException($"no database at {target.Location}: check the URL (wcfs file create makes one)");
        return Open(url);
    }

    /// <summary>
    /// Parses a storage URL without opening it: the kind and the location (an absolute file path for
    /// SQLite, the URL itself for PostgreSQL).
    /// </summary>
    /// <exception cref="StorageException">The URL is empty, has an unknown scheme or a relative sqlite:// path.</exception>
    public static StorageTarget Parse(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        var u = url.Trim();
        if (u.Length == 0)
            throw new StorageException("empty storage URL: give sqlite:///abs/path.db, a path, or postgresql://user@host/db");
        var m = SchemeRegex().Match(u);
        if (!m.Success)
            return new StorageTarget(StorageKind.Sqlite, FullPath(u, url));
        var scheme = m.Groups[1].Value.ToLowerInvariant();
        var rest = u[m.Length..];
        switch (scheme)
        {
            case "sqlite":
                if (!rest.StartsWith('/'))
                    throw new StorageException($"invalid sqlite URL \"{url}\": expected sqlite:///absolute/path.db");
                return new StorageTarget(StorageKind.Sqlite, FullPath(rest, url));
            case "postgresql":
            case "postgres":
                return new StorageTarget(StorageKind.Postgres, u);
            default:
                throw new StorageException($"unknown storage URL scheme \"{m.Groups[1].Value}\" in \"{Redact(url)}\": expected sqlite:// or postgresql://");
        }
    }

    /// <summary>
    /// The PostgreSQL hook: the PostgreSQL backend (branch <c>postgres</c>) plugs in here.
    /// </summary>
    private static IStorage OpenPostgres(string url, StorageOptions? options) => PostgresStorage.Open(url, storageOptions: options);

    /// <summary>The URL with any password replaced by "***" (for messages and <see cref="IStorage.Url"/>).</summary>
    public static string Redact(string url) => PasswordRegex().Replace(url, "$1***@");

    private static string FullPath(string path, string url)
    {
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new StorageException($"invalid storage path in \"{url}\": {e.Message}", e);
        }
    }

    [GeneratedRegex(@"^([A-Za-z][A-Za-z0-9+.\-]*)://")]
    private static partial Regex SchemeRegex();

    [GeneratedRegex(@"^([A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*:)[^@/]*@")]
    private static partial Regex PasswordRegex();
}

/// <summary>The storage engines.</summary>
public enum StorageKind
{
    /// <summary>An SQLite database file.</summary>
    Sqlite,
    /// <summary>A PostgreSQL database.</summary>
    Postgres,
}

/// <summary>A parsed storage URL.</summary>
/// <param name="Kind">The engine.</param>
/// <param name="Location">An absolute file path (SQLite) or the URL (PostgreSQL).</param>
public sealed record StorageTarget(StorageKind Kind, string Location);
