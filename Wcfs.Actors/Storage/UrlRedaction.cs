// UrlRedaction - the one formatter that turns a storage URL into text fit for a message, a log or a
// file (issue 12, item 9: a secret never reaches a command line, an exception text or a log).
//
// Every exception text, log line and console line that names a storage URL passes it through
// Redact (IStorage.Url is already redacted). The password of the user info becomes "***", a
// password=... query parameter loses its value; unparsable input is redacted best effort (the last
// '@' before the query ends the user info, so a password holding '@', '/' or ':' is still cut; an
// '@' only in the query may over-redact, never under-redact).
namespace Wcfs.Actors.Storage;

/// <summary>Storage URLs without secrets, for messages and logs.</summary>
public static class UrlRedaction
{
    /// <summary>
    /// <paramref name="url"/> with any password replaced: <c>postgresql://u:secret@h/db</c> →
    /// <c>postgresql://u:***@h/db</c>; <c>?password=x</c> → <c>?password=***</c>.
    /// </summary>
    public static string Redact(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        url = System.Text.RegularExpressions.Regex.Replace(url, "([?&]password=)[^&]*", "$1***",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase);
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
            return url;
        // The user info ends at the last '@' before the query; a password may itself hold '@', '/',
        // ':' or '?', so with no '@' before the first '?' the last '@' of all is taken.
        var query = url.IndexOf('?', scheme + 3);
        var end = query < 0 ? url.Length : query;
        var at = url.LastIndexOf('@', end - 1, end - (scheme + 3));
        if (at < 0)
            at = url.LastIndexOf('@');
        if (at < scheme + 3)
            return url;
        var info = url[(scheme + 3)..at];
        var colon = info.IndexOf(':', StringComparison.Ordinal);
        return colon < 0 ? url : url[..(scheme + 3)] + info[..colon] + ":***" + url[at..];
    }
}
