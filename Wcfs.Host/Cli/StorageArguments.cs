// StorageArguments - the arguments shared by the storage commands: the storage URL (optional,
// defaulting to HOCON wcfs.storage or the embedded SQLite database), --config, and the parsers of
// oids, tids, block numbers and sizes (usage errors name the bad value).
using System.CommandLine;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static class StorageArguments
{
    /// <summary>--config FILE: HOCON whose wcfs section overrides reference.conf.</summary>
    public static Option<string?> ConfigOption() => new("--config")
    {
        Description = "HOCON file with a wcfs { } section (default storage, data-dir)",
        HelpName = "FILE",
    };

    /// <summary>The optional leading storage URL of a command without other positional arguments.</summary>
    public static Argument<string?> UrlArgument() => new("url")
    {
        Description = "storage URL: sqlite:///abs/path.db, a path, or postgresql://... (default: wcfs.storage or the embedded database)",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>The URL argument's value, or the configured default.</summary>
    public static string Url(ParseResult r, Argument<string?> url, Option<string?> config) =>
        r.GetValue(url) is { Length: > 0 } u ? u : DefaultUrl(r.GetValue(config));

    /// <summary>
    /// Splits positional tokens where the leading URL is optional: <paramref name="tokens"/> holds
    /// either <paramref name="required"/> values or one more (the URL first).
    /// </summary>
    public static (string Url, string[] Values) SplitUrl(ParseResult r, string[]? tokens, int required, Option<string?> config)
    {
        tokens ??= [];
        if (tokens.Length == required + 1)
            return (tokens[0], tokens[1..]);
        if (tokens.Length == required)
            return (DefaultUrl(r.GetValue(config)), tokens);
        throw new UsageException($"expected {required} argument(s) after the optional storage URL, got {tokens.Length}");
    }

    public static string DefaultUrl(string? configFile)
    {
        if (configFile is null)
            return WcfsSettings.Default.EffectiveStorageUrl;
        return WcfsSettings.FromConfig(ConfigFile.Parse(configFile)).EffectiveStorageUrl;
    }

    public static Oid ParseOid(string s) =>
        Oid.TryParse(s, out var o) ? o : throw new UsageException($"invalid oid \"{s}\": expected 16 hex digits");

    public static Tid ParseTid(string s) =>
        Tid.TryParse(s, out var t) ? t : throw new UsageException($"invalid tid \"{s}\": expected 16 hex digits");

    public static long ParseBlock(string s) =>
        BlockNumber.TryParse(s, out var b) ? b.Value : throw new UsageException($"invalid block number \"{s}\": expected a decimal number ≥ 0");

    public static int ParseBlockSize(string s) =>
        SizeText.TryParse(s, out var n) && ZBigFileState.IsValidBlockSize(n)
            ? (int)n
            : throw new UsageException($"invalid block size \"{s}\": expected a power of two from 4KiB to 64MiB");

    /// <summary>The file's state as of <paramref name="at"/>, or a failure naming the oid.</summary>
    public static ZBigFileState RequireFile(IStorage s, Oid oid, Tid at) =>
        s.LoadObject(oid, at)?.State as ZBigFileState
            ?? throw new CommandException($"no file {oid} as of {at}");
}
