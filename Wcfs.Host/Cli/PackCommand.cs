// PackCommand - `wcfs pack [url] --keep DURATION` and `wcfs du [url]` (issue 15).
//
// pack: the cut is now − keep (tids are commit times in ns), moved back to what the WCFS server of
// this storage on this machine still needs: its .wcfs/oldest (the start of its history window, no
// later than the at of any live watch or known @rev directory). A server that exists but does not
// answer (hung, stale mount, no .wcfs/oldest) means no pack: nothing is dropped. Then IStorage.Pack
// keeps every version a reader at or after the cut sees, and Reclaim returns the space. PostgreSQL
// may have servers on other machines that this command cannot ask: it refuses unless told with
// --no-other-servers that there are none.
//
// du: bytes of block data per file (IStorage.Usage): head (what the newest revision reads) and
// history (older versions, what pack can drop), with the root's names.
using System.CommandLine;
using System.Globalization;
using System.Text.RegularExpressions;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static partial class PackCommand
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    public static Command Create()
    {
        var url = StorageArguments.UrlArgument();
        var config = StorageArguments.ConfigOption();
        var keep = new Option<string>("--keep")
        {
            Description = "keep every revision newer than this long ago readable, e.g. 0s, 90m, 12h, 7d",
            HelpName = "DURATION",
            Required = true,
        };
        var mountpoint = new Option<string?>("--mountpoint") { Description = "the server's mountpoint if not the default" };
        var noOthers = new Option<bool>("--no-other-servers")
        {
            Description = "PostgreSQL: no WCFS server on another machine serves this database (they cannot be asked)",
        };
        var cmd = new Command("pack", "drop versions no reader of a revision newer than now - keep (or of the running server) needs; reclaim the space")
        {
            url, keep, mountpoint, noOthers, config,
        };
        cmd.SetAction((r, ct) => CliErrors.RunAsync(async () =>
        {
            var keepFor = ParseDuration(r.GetValue(keep)!);
            var settings = ServeCli.LoadSettings(r.GetValue(config)) ?? throw new UsageException("unreadable --config");
            var u = StorageArguments.Url(r, url, config);
            if (StorageFactory.Parse(u).Kind == StorageKind.Postgres && !r.GetValue(noOthers))
                throw new CommandException("refusing to pack a PostgreSQL database: WCFS servers on other machines cannot be asked what they still need; stop them (or make sure there are none) and pass --no-other-servers");
            var cut = TidOf(DateTime.UtcNow - keepFor);
            var mnt = ServeCli.Mountpoint(u, settings, r.GetValue(mountpoint));
            if (await OldestNeededAsync(mnt) is { } oldest && oldest < cut)
            {
                Console.Error.WriteLine($"wcfs pack: the server at {mnt} still needs revisions from {oldest}: cut moved back from {cut}");
                cut = oldest;
            }
            using var s = StorageFactory.Open(u);
            var before = s.Usage();
            s.Pack(cut);
            s.Reclaim();
            var after = s.Usage();
            long history(IReadOnlyList<FileUsage> l) => l.Sum(x => x.HistoryBytes);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"packed {s.Url} at {cut}: history {Size(history(before))} -> {Size(history(after))}, head {Size(before.Sum(x => x.HeadBytes))}"));
            return 0;
        }));
        return cmd;
    }

    public static Command CreateDu()
    {
        var url = StorageArguments.UrlArgument();
        var config = StorageArguments.ConfigOption();
        var bytes = new Option<bool>("--bytes") { Description = "exact byte counts instead of KiB/MiB/GiB" };
        var cmd = new Command("du", "bytes of block data stored per file: head (the newest revision) and history (what pack can drop)") { url, bytes, config };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            using var s = StorageFactory.Open(StorageArguments.Url(r, url, config));
            var names = ((RootState)s.LoadObject(Oid.Root, Tid.Max)!.State).Names
                .GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => string.Join(",", g.Select(kv => kv.Key)));
            var exact = r.GetValue(bytes);
            string F(long n) => exact ? n.ToString(CultureInfo.InvariantCulture) : Size(n);
            var usage = s.Usage();
            Console.Out.WriteLine($"{"file",-16}  {"head",12}  {"history",12}  name");
            foreach (var u in usage)
                Console.Out.WriteLine($"{u.File,-16}  {F(u.HeadBytes),12}  {F(u.HistoryBytes),12}  {names.GetValueOrDefault(u.File, "")}".TrimEnd());
            Console.Out.WriteLine($"{"total",-16}  {F(usage.Sum(u => u.HeadBytes)),12}  {F(usage.Sum(u => u.HistoryBytes)),12}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// What the local server still needs: null when no server runs for this storage; throws (no
    /// pack) when one exists but cannot be asked.
    /// </summary>
    internal static async Task<Tid?> OldestNeededAsync(string mnt)
    {
        var (state, _) = await MountPoint.ProbeAsync(mnt, AskTimeout);
        if (state == ServerState.None)
            return null;
        if (state != ServerState.Running)
            throw new CommandException($"refusing to pack: the WCFS server at {mnt} is {state.ToString().ToLowerInvariant()} and cannot be asked what it still needs; stop it (wcfs stop) or fix it first");
        var read = Task.Run(() => File.ReadAllText(Path.Combine(mnt, ".wcfs", "oldest")));
        if (await Task.WhenAny(read, Task.Delay(AskTimeout)) != read || !read.IsCompletedSuccessfully || !Tid.TryParse(read.Result.Trim(), out var oldest))
            throw new CommandException($"refusing to pack: the WCFS server at {mnt} does not say what it still needs (.wcfs/oldest: {(read.IsFaulted ? read.Exception!.InnerException!.Message : "no answer")}); restart it with this wcfs");
        return oldest;
    }

    /// <summary>The tid of a commit at <paramref name="t"/> (ns since the Unix epoch; both backends).</summary>
    internal static Tid TidOf(DateTime t) => t <= DateTime.UnixEpoch ? Tid.Zero : new Tid((ulong)(t - DateTime.UnixEpoch).Ticks * 100);

    /// <summary>"0", "90s", "15m", "12h", "7d" (a number and a unit).</summary>
    internal static TimeSpan ParseDuration(string text)
    {
        var m = DurationRegex().Match(text.Trim());
        if (!m.Success)
            throw new UsageException($"invalid duration \"{text}\": expected a number and a unit s, m, h or d (e.g. 0s, 90m, 7d)");
        var n = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        return m.Groups[2].Value switch
        {
            "s" or "" => TimeSpan.FromSeconds(n),
            "m" => TimeSpan.FromMinutes(n),
            "h" => TimeSpan.FromHours(n),
            _ => TimeSpan.FromDays(n),
        };
    }

    private static string Size(long n) => n switch
    {
        < 1024 => $"{n} B",
        < 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{n / 1024.0:0.0} KiB"),
        < 1 << 30 => string.Create(CultureInfo.InvariantCulture, $"{n / (double)(1 << 20):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{n / (double)(1 << 30):0.00} GiB"),
    };

    [GeneratedRegex(@"^(\d+(?:\.\d+)?)\s*(s|m|h|d|)$")]
    private static partial Regex DurationRegex();
}
