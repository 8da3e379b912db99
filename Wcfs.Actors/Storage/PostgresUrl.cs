// PostgresUrl - parses "postgresql://user:pass@host:port/db?k=v" into Npgsql settings.
//
// The redacted form (Url) never carries a password; it is what every error message and log
// names. Query parameters: libpq's sslmode, connect_timeout, application_name, host (a directory
// for a Unix socket), and any Npgsql connection-string keyword (e.g. "Command Timeout").
using System.Globalization;
using System.Text;
using Npgsql;

namespace Wcfs.Actors.Storage;

/// <summary>A parsed <c>postgresql://</c> storage URL.</summary>
internal sealed record PostgresUrl(string Url, NpgsqlConnectionStringBuilder Settings)
{
    /// <summary>True for URLs this backend serves (<c>postgresql://</c> or <c>postgres://</c>).</summary>
    public static bool Handles(string url) =>
        url.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) ||
        url.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Parses <paramref name="url"/>; throws StorageException naming the redacted URL and the cause.</summary>
    public static PostgresUrl Parse(string url)
    {
        if (!Handles(url))
            throw new StorageException($"not a PostgreSQL URL: \"{Redact(url)}\" (expected postgresql://user:pass@host:port/db)");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.HostNameType == UriHostNameType.Unknown && uri.Host.Length > 0)
            throw new StorageException($"invalid PostgreSQL URL \"{Redact(url)}\" (expected postgresql://user:pass@host:port/db)");

        var b = new NpgsqlConnectionStringBuilder();
        string user = "", host = uri.IdnHost.Trim('[', ']');
        var info = uri.UserInfo;
        if (info.Length > 0)
        {
            var colon = info.IndexOf(':');
            user = Uri.UnescapeDataString(colon < 0 ? info : info[..colon]);
            if (colon >= 0)
                b.Password = Uri.UnescapeDataString(info[(colon + 1)..]);
        }
        var db = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (db.Length == 0 || db.Contains('/'))
            throw new StorageException($"invalid PostgreSQL URL \"{Redact(url)}\": the path must name one database (postgresql://host:port/db)");
        var port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port;

        var extra = new StringBuilder();
        foreach (var (key, value) in Query(uri.Query))
        {
            try
            {
                switch (key)
                {
                    case "sslmode": b.SslMode = Enum.Parse<SslMode>(value.Replace("-", "", StringComparison.Ordinal), ignoreCase: true); break;
                    case "connect_timeout": b.Timeout = int.Parse(value, CultureInfo.InvariantCulture); break;
                    case "application_name": b.ApplicationName = value; break;
                    case "host": host = value; break;
                    case "password": throw new ArgumentException("put the password in the user info (user:pass@host), not in the query");
                    default: b[key] = value; break;
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or KeyNotFoundException)
            {
                throw new StorageException($"invalid PostgreSQL URL \"{Redact(url)}\": query parameter \"{key}\": {e.Message}", e);
            }
            if (key != "host")
                extra.Append(extra.Length == 0 ? '?' : '&').Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
        }
        if (host.Length == 0)
            throw new StorageException($"invalid PostgreSQL URL \"{Redact(url)}\": no host");

        b.Host = host;
        b.Port = port;
        b.Database = db;
        if (user.Length > 0)
            b.Username = user;
        var hostText = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host.StartsWith('/') ? Uri.EscapeDataString(host) : host;
        var redacted = $"postgresql://{(user.Length > 0 ? Uri.EscapeDataString(user) + "@" : "")}{hostText}:{port}/{Uri.EscapeDataString(db)}{extra}";
        return new PostgresUrl(redacted, b);
    }

    /// <summary>The URL without its password (UrlRedaction, the one formatter).</summary>
    public static string Redact(string url) => UrlRedaction.Redact(url);

    private static IEnumerable<(string Key, string Value)> Query(string query)
    {
        foreach (var part in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? part : part[..eq]);
            var value = eq < 0 ? "" : Uri.UnescapeDataString(part[(eq + 1)..].Replace('+', ' '));
            yield return (key, value);
        }
    }
}
