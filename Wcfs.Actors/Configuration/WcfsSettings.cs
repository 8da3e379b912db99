// WcfsSettings - the validated view of the `wcfs { }` HOCON section (API.md §3).
//
// Defaults live only in hocon/reference.conf (embedded as "Wcfs.reference.conf"); this file reads
// the merged configuration once and checks every value. Errors name the key.
using System.Reflection;
using Akka.Configuration;

namespace Wcfs.Actors.Configuration;

/// <summary>Server-side settings (<c>wcfs.server</c>).</summary>
/// <param name="PinTimeout">How long a pin may stay unanswered before its client is killed.</param>
/// <param name="HistoryWindow">Minimum span of history kept for watch setup.</param>
/// <param name="Readahead">Kernel readahead of the mount, bytes.</param>
/// <param name="RevDirIdleTimeout">How long an unused @rev directory stays in the kernel's cache.</param>
/// <param name="AllowOther">Other users may use the mount (allow_other + default_permissions, modes
/// following the database file); off: only the serving user.</param>
public sealed record WcfsServerSettings(TimeSpan PinTimeout, TimeSpan HistoryWindow, long Readahead, TimeSpan RevDirIdleTimeout, bool AllowOther = false);

/// <summary>Client-side settings (<c>wcfs.client</c>).</summary>
public sealed record WcfsClientSettings(long PageSize);

/// <summary>All of <c>wcfs { }</c>, validated.</summary>
public sealed record WcfsSettings(
    string Storage, string DataDir, string MountRoot, bool Autostart,
    WcfsServerSettings Server, WcfsClientSettings Client)
{
    /// <summary>The library defaults (reference.conf).</summary>
    public static Config Reference { get; } = LoadReference();

    /// <summary>The defaults alone.</summary>
    public static WcfsSettings Default { get; } = FromConfig(Reference);

    /// <summary>
    /// The storage URL to use: <see cref="Storage"/> if set, else the embedded SQLite default
    /// <c>sqlite://&lt;data-dir&gt;/wcfs.db</c>.
    /// </summary>
    public string EffectiveStorageUrl =>
        Storage.Length > 0 ? Storage : "sqlite://" + Path.Combine(DataDir, "wcfs.db");

    /// <summary>Reads and validates <c>wcfs</c> from <paramref name="config"/> (reference.conf as fallback).</summary>
    /// <exception cref="ConfigurationException">A value is missing or invalid; the message names the key.</exception>
    public static WcfsSettings FromConfig(Config? config)
    {
        var c = WithReference(config);
        return new WcfsSettings(
            Storage: c.GetString("wcfs.storage", "") ?? "",
            DataDir: ExpandHome(RequireString(c, "wcfs.data-dir")),
            MountRoot: ExpandHome(RequireString(c, "wcfs.mount-root")),
            Autostart: GetBool(c, "wcfs.autostart"),
            Server: new WcfsServerSettings(
                PinTimeout: PositiveDuration(c, "wcfs.server.pin-timeout"),
                HistoryWindow: PositiveDuration(c, "wcfs.server.history-window"),
                Readahead: PositiveSize(c, "wcfs.server.readahead"),
                RevDirIdleTimeout: PositiveDuration(c, "wcfs.server.rev-dir-idle-timeout"),
                AllowOther: GetBool(c, "wcfs.server.allow-other")),
            Client: new WcfsClientSettings(PageSize: PageSize(c, "wcfs.client.page-size")));
    }

    /// <summary><paramref name="config"/> with reference.conf as fallback (the one place that adds it).</summary>
    public static Config WithReference(Config? config) =>
        config is null || config.IsEmpty || ReferenceEquals(config, Reference) ? Reference : config.WithFallback(Reference);

    /// <summary>Parses HOCON text with reference.conf as fallback.</summary>
    public static WcfsSettings FromHocon(string hocon) => FromConfig(ConfigurationFactory.ParseString(hocon));

    private static Config LoadReference()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("Wcfs.reference.conf")
            ?? throw new InvalidOperationException("reference.conf is not embedded in Wcfs.Actors");
        using var r = new StreamReader(s);
        return ConfigurationFactory.ParseString(r.ReadToEnd());
    }

    private static string RequireString(Config c, string key)
    {
        var v = Get(key, () => c.GetString(key, null));
        return string.IsNullOrWhiteSpace(v) ? throw Invalid(key, "must not be empty") : v;
    }

    private static bool GetBool(Config c, string key)
    {
        var raw = Get(key, () => c.GetString(key, null))?.Trim().ToLowerInvariant();
        return raw switch
        {
            "on" or "true" or "yes" => true,
            "off" or "false" or "no" => false,
            _ => throw Invalid(key, $"\"{raw}\" is not a boolean (on/off)"),
        };
    }

    private static TimeSpan PositiveDuration(Config c, string key)
    {
        var raw = Get(key, () => c.GetString(key, null));
        var d = DurationText.TryParse(raw, out var t) ? t : throw Invalid(key, $"\"{raw}\" is not a duration (e.g. 30s, 500ms, 1m)");
        return d > TimeSpan.Zero ? d : throw Invalid(key, "must be positive");
    }

    private static long PositiveSize(Config c, string key)
    {
        var raw = Get(key, () => c.GetString(key, null));
        var n = SizeText.TryParse(raw, out var v) ? v : throw Invalid(key, $"\"{raw}\" is not a size (e.g. 4MiB, 65536)");
        return n > 0 ? n : throw Invalid(key, "must be positive");
    }

    private static long PageSize(Config c, string key)
    {
        var n = PositiveSize(c, key);
        return n >= 4096 && (n & (n - 1)) == 0 ? n : throw Invalid(key, $"{n} is not a power of two ≥ 4KiB");
    }

    private static T Get<T>(string key, Func<T> read)
    {
        try { return read(); }
        catch (Exception e) when (e is not ConfigurationException) { throw Invalid(key, e.Message); }
    }

    private static ConfigurationException Invalid(string key, string why) => new($"invalid setting {key}: {why}");

    private static string ExpandHome(string p) =>
        p == "~" || p.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), p.Length > 2 ? p[2..] : "")
            : p;
}
