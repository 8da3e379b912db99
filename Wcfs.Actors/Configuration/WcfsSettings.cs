// WcfsSettings - the one validated view of the `wcfs { }` HOCON section (API.md §3); the only
// reader of `wcfs.*` keys in the code base.
//
// Defaults live only in hocon/reference.conf (embedded as "Wcfs.reference.conf"). This file reads
// the merged configuration once, with HOCON's own getters (GetTimeSpan for durations, GetByteSize
// for sizes: one grammar, the one a .conf file uses), and checks every value. Errors name the key.
// A key under `wcfs` that reference.conf does not declare is reported in UnknownKeys (the runtime
// logs a warning naming it: a typo must not pass silently). The dispatcher sections are Akka
// dispatcher configuration, read by Akka itself, and are not checked here.
//
// Who gets what: WcfsRuntime (the Akka extension) reads the settings of its ActorSystem once;
// Database, WcfsClient, the VirtmemActors and the server launcher take them from there; `wcfs serve`
// reads them from --config. Nothing else calls Config.Get* on a wcfs key.
using System.Reflection;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Wcfs.Actors.Configuration;

/// <summary>Server-side settings (<c>wcfs.server</c>).</summary>
/// <param name="PinTimeout"><c>wcfs.server.pin-timeout</c>: how long a client may take to ack a pin.</param>
/// <param name="HistoryWindow"><c>wcfs.server.history-window</c>: minimum span of history kept for watch setup.</param>
/// <param name="Readahead"><c>wcfs.server.readahead</c>: kernel readahead of the mount, bytes.</param>
/// <param name="RevDirIdleTimeout"><c>wcfs.server.rev-dir-idle-timeout</c>: an unused @rev/ directory is retired (its kernel entry dropped) after this.</param>
/// <param name="BlockCache"><c>wcfs.server.block-cache</c>: memory for whole blocks reused from read to read, bytes.</param>
/// <param name="AllowOther"><c>wcfs.server.allow-other</c>: other users may use the mount (allow_other +
/// default_permissions, owner and modes following the database file); off: only the serving user.</param>
/// <param name="PrefetchCommitted"><c>wcfs.server.prefetch-committed</c>: after a commit, the server reads the blocks it
/// changed of files in use into the shared page cache.</param>
public sealed record WcfsServerSettings(TimeSpan PinTimeout, TimeSpan HistoryWindow, long Readahead, TimeSpan RevDirIdleTimeout, long BlockCache, bool AllowOther = false, bool PrefetchCommitted = true);

/// <summary>Client-side settings (<c>wcfs.client</c>).</summary>
/// <param name="PageSize"><c>wcfs.client.page-size</c>: dirty-page granularity, bytes.</param>
/// <param name="AskTimeout"><c>wcfs.client.ask-timeout</c>: how long the public client API waits for its actors.</param>
/// <param name="StartTimeout"><c>wcfs.client.start-timeout</c>: how long a join waits for an autostarted server
/// and a connect for head/at to reach the requested revision.</param>
/// <param name="ReattachTimeout"><c>wcfs.client.reattach-timeout</c>: how long a conn whose server died waits for a
/// new one (zero: not at all).</param>
public sealed record WcfsClientSettings(long PageSize, TimeSpan AskTimeout, TimeSpan StartTimeout, TimeSpan ReattachTimeout);

/// <summary>Settings of the dirty-page layer (<c>wcfs.virtmem</c>).</summary>
/// <param name="RamLimit"><c>wcfs.virtmem.ram-limit</c>: RAM budget of one VirtmemActor, bytes.</param>
/// <param name="AskTimeout"><c>wcfs.virtmem.ask-timeout</c>: how long the BigFileH edge API waits for its actor.</param>
/// <param name="HugePages"><c>wcfs.virtmem.huge-pages</c>: dirty pages take 2 MiB huge pages when the page size is a
/// multiple of 2 MiB and the kernel offers them (vm.nr_hugepages, vm.nr_overcommit_hugepages); ordinary memory otherwise.</param>
public sealed record WcfsVirtmemSettings(long RamLimit, TimeSpan AskTimeout, bool HugePages = true);

/// <summary>Settings of stored history (<c>wcfs.history</c>).</summary>
/// <param name="ChunkSize"><c>wcfs.history.chunk-size</c>: the chunk size of block versions, bytes (applied when a database is created or migrated).</param>
public sealed record WcfsHistorySettings(int ChunkSize);

/// <summary>All of <c>wcfs { }</c>, validated.</summary>
public sealed record WcfsSettings(
    string Storage, string DataDir, string MountRoot, bool Autostart,
    WcfsServerSettings Server, WcfsClientSettings Client, WcfsVirtmemSettings Virtmem)
{
    /// <summary><c>wcfs.history</c>.</summary>
    public WcfsHistorySettings History { get; init; } = new(Wcfs.Actors.Storage.BlockChunks.DefaultChunkSize);

    /// <summary>The library defaults (reference.conf).</summary>
    public static Config Reference { get; } = LoadReference();

    // before Default (static initializers run in textual order)
    private static readonly HashSet<string> KnownKeys = LeafKeys(Reference).ToHashSet(StringComparer.Ordinal);

    /// <summary>The defaults alone.</summary>
    public static WcfsSettings Default { get; } = FromConfig(Reference);

    /// <summary>Keys under <c>wcfs</c> that reference.conf does not declare (typos); the runtime warns about each.</summary>
    public IReadOnlyList<string> UnknownKeys { get; init; } = [];

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
        var pageSize = PageSize(c, "wcfs.client.page-size");
        var ramLimit = PositiveSize(c, "wcfs.virtmem.ram-limit");
        if (ramLimit < pageSize)
            throw Invalid("wcfs.virtmem.ram-limit", $"{ramLimit} is less than one page ({pageSize}, wcfs.client.page-size)");
        return new WcfsSettings(
            Storage: Get("wcfs.storage", () => c.GetString("wcfs.storage", "")) ?? "",
            DataDir: ExpandHome(RequireString(c, "wcfs.data-dir")),
            MountRoot: ExpandHome(RequireString(c, "wcfs.mount-root")),
            Autostart: GetBool(c, "wcfs.autostart"),
            Server: new WcfsServerSettings(
                PinTimeout: PositiveDuration(c, "wcfs.server.pin-timeout"),
                HistoryWindow: PositiveDuration(c, "wcfs.server.history-window"),
                Readahead: PositiveSize(c, "wcfs.server.readahead"),
                RevDirIdleTimeout: PositiveDuration(c, "wcfs.server.rev-dir-idle-timeout"),
                BlockCache: PositiveSize(c, "wcfs.server.block-cache"),
                AllowOther: GetBool(c, "wcfs.server.allow-other"),
                PrefetchCommitted: GetBool(c, "wcfs.server.prefetch-committed")),
            Client: new WcfsClientSettings(
                PageSize: pageSize,
                AskTimeout: PositiveDuration(c, "wcfs.client.ask-timeout"),
                StartTimeout: PositiveDuration(c, "wcfs.client.start-timeout"),
                ReattachTimeout: NonNegativeDuration(c, "wcfs.client.reattach-timeout")),
            Virtmem: new WcfsVirtmemSettings(
                RamLimit: ramLimit,
                AskTimeout: PositiveDuration(c, "wcfs.virtmem.ask-timeout"),
                HugePages: GetBool(c, "wcfs.virtmem.huge-pages")))
        {
            History = new WcfsHistorySettings(ChunkSize(c, "wcfs.history.chunk-size")),
            UnknownKeys = LeafKeys(c).Where(k => !KnownKeys.Contains(k) && !IsDispatcherKey(k)).Order(StringComparer.Ordinal).ToArray(),
        };
    }

    /// <summary><paramref name="config"/> with reference.conf as fallback (for a config that is not an
    /// actor system's; an actor system gets it from <c>WcfsRuntime</c>, once).</summary>
    public static Config WithReference(Config? config) =>
        config is null || config.IsEmpty || ReferenceEquals(config, Reference) ? Reference : config.WithFallback(Reference);

    /// <summary>Parses HOCON text with reference.conf as fallback.</summary>
    public static WcfsSettings FromHocon(string hocon) => FromConfig(ConfigurationFactory.ParseString(hocon));

    /// <summary>The HOCON that gives <paramref name="server"/> back (for a server started with these settings).</summary>
    public static string ServerHocon(WcfsServerSettings server) =>
        $"wcfs.server {{ pin-timeout = {DurationText.Format(server.PinTimeout)}, history-window = {DurationText.Format(server.HistoryWindow)}, "
        + $"readahead = {SizeText.Format(server.Readahead)}, rev-dir-idle-timeout = {DurationText.Format(server.RevDirIdleTimeout)}, "
        + $"block-cache = {SizeText.Format(server.BlockCache)}, allow-other = {(server.AllowOther ? "on" : "off")}, "
        + $"prefetch-committed = {(server.PrefetchCommitted ? "on" : "off")} }}\n";

    private static Config LoadReference()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("Wcfs.reference.conf")
            ?? throw new InvalidOperationException("reference.conf is not embedded in Wcfs.Actors");
        using var r = new StreamReader(s);
        return ConfigurationFactory.ParseString(r.ReadToEnd());
    }

    private static bool IsDispatcherKey(string key) =>
        key.StartsWith("wcfs.client.dispatcher.", StringComparison.Ordinal) || key.StartsWith("wcfs.virtmem.dispatcher.", StringComparison.Ordinal);

    /// <summary>Every leaf path under <c>wcfs</c> of the (merged) configuration.</summary>
    private static IEnumerable<string> LeafKeys(Config c)
    {
        if (c.IsEmpty || !c.HasPath("wcfs"))
            return [];
        var leaves = new List<string>();
        void Walk(string prefix, HoconValue v)
        {
            if (v.IsObject())
            {
                foreach (var (k, child) in v.GetObject().Items)
                    Walk(prefix + "." + k, child);
            }
            else
            {
                leaves.Add(prefix);
            }
        }
        Walk("wcfs", c.GetValue("wcfs"));
        return leaves;
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

    /// <summary>The range of every duration setting: at least 1 ms, at most 24 days (the longest delay
    /// .NET timers accept; a longer pin timeout used to throw inside the read path, issue 12 item 5).</summary>
    public static (TimeSpan Min, TimeSpan Max) DurationRange => (TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(24)); // why: a range bound, not a timer; a property: Default is built during static init

    /// <summary>Null if <paramref name="d"/> is inside <see cref="DurationRange"/>, else why not.</summary>
    public static string? CheckDuration(TimeSpan d) =>
        d < DurationRange.Min ? "must be at least 1ms" : d > DurationRange.Max ? "must be at most 24d" : null;

    private static TimeSpan PositiveDuration(Config c, string key)
    {
        var d = Get(key, () => c.GetTimeSpan(key, null, allowInfinite: false), "a duration (e.g. 30s, 500ms, 1m)");
        if (d <= TimeSpan.Zero)
            throw Invalid(key, "must be positive");
        return CheckDuration(d) is { } why ? throw Invalid(key, why) : d;
    }

    private static TimeSpan NonNegativeDuration(Config c, string key)
    {
        var d = Get(key, () => c.GetTimeSpan(key, null, allowInfinite: false), "a duration (e.g. 30s, 500ms, 1m)");
        if (d < TimeSpan.Zero)
            throw Invalid(key, "must not be negative");
        return d > DurationRange.Max ? throw Invalid(key, "must be at most 24d") : d;
    }

    private static long PositiveSize(Config c, string key)
    {
        var n = Get(key, () => c.GetByteSize(key), "a size (e.g. 4MiB, 65536)") ?? throw Invalid(key, "missing");
        return n > 0 ? n : throw Invalid(key, "must be positive");
    }

    private static long PageSize(Config c, string key)
    {
        var n = PositiveSize(c, key);
        return n >= 4096 && (n & (n - 1)) == 0 ? n : throw Invalid(key, $"{n} is not a power of two ≥ 4KiB");
    }

    private static int ChunkSize(Config c, string key)
    {
        var n = PositiveSize(c, key);
        return Wcfs.Actors.Storage.BlockChunks.IsValidChunkSize(n) ? (int)n : throw Invalid(key, $"{n} is not a power of two from 1KiB to 64MiB");
    }

    private static T Get<T>(string key, Func<T> read, string? what = null)
    {
        try { return read(); }
        catch (Exception e) when (e is not ConfigurationException || what is not null)
        {
            throw Invalid(key, what is null ? e.Message : $"not {what}: {e.Message}");
        }
    }

    private static ConfigurationException Invalid(string key, string why) => new($"invalid setting {key}: {why}");

    private static string ExpandHome(string p) =>
        p == "~" || p.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), p.Length > 2 ? p[2..] : "")
            : p;
}
