// ServeCommand - `wcfs serve <url> [--mountpoint DIR] [--pin-timeout DUR] [--config FILE]
// [--log-format text|json] [--log-file FILE [--log-file-size SIZE]]` (API.md §4): runs the WCFS
// server in the foreground until unmounted or SIGTERM/SIGINT. Logging: ServeLogging.
// `wcfs serve --url-from-stdin ...` reads the URL from stdin instead, and `--config -` the whole settings
// (wcfs.storage included; the library's launcher uses it for detached servers): a PostgreSQL password
// then never appears on a command line (/proc/<pid>/cmdline is world-readable) nor in a file.
// Also holds the option parsing shared by status/stop/mountpoint (ServeCli).
using System.CommandLine;
using System.Runtime.InteropServices;
using Akka.Configuration;
using Serilog;
using Serilog.Events;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Server;

namespace Wcfs.Host.Cli;

internal static class ServeCli
{
    public static Argument<string?> UrlArgument() => new("url")
    {
        Description = "storage URL (sqlite:///abs/path.db or postgresql://...); default: wcfs.storage or the embedded database",
        Arity = ArgumentArity.ZeroOrOne,
    };

    public static Option<string?> ConfigOption() => new("--config") { Description = "HOCON file with a wcfs { } section (-: read it from stdin)" };

    /// <summary>Settings from --config (reference.conf as fallback; "-" reads the HOCON from stdin, as a
    /// launcher hands a detached server its storage URL); null after printing the error.</summary>
    public static WcfsSettings? LoadSettings(string? configPath)
    {
        try
        {
            return configPath switch
            {
                null => WcfsSettings.Default,
                "-" => FromStdin(),
                _ => WcfsSettings.FromConfig(ConfigFile.Parse(configPath)),
            };
        }
        catch (Exception e) when (e is ConfigurationException or CommandException)
        {
            Console.Error.WriteLine($"wcfs: {e.Message}");
            return null;
        }
    }

    private static WcfsSettings FromStdin()
    {
        var text = Console.In.ReadToEnd();
        if (string.IsNullOrWhiteSpace(text))
            throw new ConfigurationException("--config -: stdin gave no settings (expected HOCON, e.g. wcfs.storage = \"...\")");
        Config parsed;
        try
        {
            parsed = ConfigurationFactory.ParseString(text);
        }
        catch (Exception e)
        {
            // the parser's message quotes the text, which may hold a password: name the kind of error only
            throw new ConfigurationException($"--config -: stdin is not valid HOCON ({e.GetType().Name})");
        }
        return WcfsSettings.FromConfig(parsed);
    }

    public static string Url(string? url, WcfsSettings s) => url ?? s.EffectiveStorageUrl;

    public static string Mountpoint(string url, WcfsSettings s, string? explicitMountpoint) =>
        explicitMountpoint ?? MountPoint.For(url, s.MountRoot);
}

internal static class ServeCommand
{
    public static Command Create()
    {
        var url = ServeCli.UrlArgument();
        var config = ServeCli.ConfigOption();
        var mountpoint = new Option<string?>("--mountpoint") { Description = "mount here instead of <mount-root>/<hash of url>" };
        var pinTimeout = new Option<string?>("--pin-timeout") { Description = "kill a client that does not ack a pin within this (e.g. 30s)" };
        var noInvalidate = new Option<bool>("--debug-no-invalidate")
        {
            Description = "never invalidate the kernel cache on commits (wrong data; only for tests proving invalidation matters)",
            Hidden = true,
        };
        var failInvalidate = new Option<bool>("--debug-fail-invalidate")
        {
            Description = "report every kernel cache invalidation as failed (EIO mode; only for its test)",
            Hidden = true,
        };
        var verbose = new Option<bool>("--verbose") { Description = "debug logging" };
        var urlFromStdin = new Option<bool>("--url-from-stdin")
        {
            Description = "read the storage URL from the first line of stdin (keeps a password off the command line)",
        };
        var logFormat = new Option<string>("--log-format")
        {
            Description = "text (default) or json (Serilog compact JSON, one event per line, properties such as Oid, Blk, At)",
            DefaultValueFactory = _ => "text",
        };
        logFormat.AcceptOnlyFromAmong("text", "json");
        var logFile = new Option<string?>("--log-file") { Description = "log to this file instead of stderr, rotated by size (FILE, FILE_001, ...)" };
        var logFileSize = new Option<string>("--log-file-size")
        {
            Description = "rotate the log file at this size (default 16MiB); the last 5 files are kept",
            DefaultValueFactory = _ => "16MiB",
        };
        var cmd = new Command("serve", "serve WCFS for a storage in the foreground until unmounted or SIGTERM/SIGINT")
        {
            url, mountpoint, pinTimeout, config, noInvalidate, failInvalidate, verbose, urlFromStdin, logFormat, logFile, logFileSize,
        };
        cmd.SetAction(async (pr, ct) =>
        {
            var sizeText = pr.GetValue(logFileSize)!;
            if (!SizeText.TryParse(sizeText, out var rotateAt) || rotateAt < 4096)
            {
                await Console.Error.WriteLineAsync($"wcfs: invalid --log-file-size \"{sizeText}\": expected a size of at least 4KiB such as 16MiB");
                return WcfsCommandLine.ExitUsage;
            }
            Log.Logger = ServeLogging.Create(pr.GetValue(verbose), pr.GetValue(logFormat) == "json", pr.GetValue(logFile), rotateAt);
            try
            {
                if (pr.GetValue(urlFromStdin) && pr.GetValue(config) == "-")
                {
                    Console.Error.WriteLine("wcfs: --url-from-stdin and --config - both read stdin: give the URL as wcfs.storage in the settings");
                    return WcfsCommandLine.ExitUsage;
                }
                var s = ServeCli.LoadSettings(pr.GetValue(config));
                if (s is null)
                    return WcfsCommandLine.ExitUsage;
                foreach (var key in s.UnknownKeys)
                    Log.Warning("unknown setting {Key}: reference.conf declares no such key under wcfs (a typo?); it is ignored", key);
                var server = s.Server;
                if (pr.GetValue(pinTimeout) is { } pt)
                {
                    if (!DurationText.TryParse(pt, out var t) || WcfsSettings.CheckDuration(t) is not null)
                    {
                        Console.Error.WriteLine($"wcfs: invalid --pin-timeout \"{pt}\": expected a duration between 1ms and 24d such as 30s or 500ms");
                        return WcfsCommandLine.ExitUsage;
                    }
                    server = server with { PinTimeout = t };
                }
                var given = pr.GetValue(url);
                if (pr.GetValue(urlFromStdin))
                {
                    if (given is not null)
                    {
                        Console.Error.WriteLine("wcfs: give the storage URL either as an argument or with --url-from-stdin, not both");
                        return WcfsCommandLine.ExitUsage;
                    }
                    given = (await Console.In.ReadLineAsync(ct))?.Trim();
                    if (string.IsNullOrEmpty(given))
                    {
                        Console.Error.WriteLine("wcfs: --url-from-stdin: stdin gave no URL (expected one line)");
                        return WcfsCommandLine.ExitUsage;
                    }
                }
                var u = ServeCli.Url(given, s);
                var mnt = Path.GetFullPath(ServeCli.Mountpoint(u, s, pr.GetValue(mountpoint)));
                return await HostAsync(new WcfsMountOptions(u, mnt, server, InvalidateCache: !pr.GetValue(noInvalidate),
                    FailInvalidationForTest: pr.GetValue(failInvalidate)), ct);
            }
            finally
            {
                await Log.CloseAndFlushAsync();
            }
        });
        return cmd;
    }

    /// <summary>
    /// Runs one <see cref="WcfsMount"/> until SIGTERM/SIGINT, an external unmount or a storage
    /// failure; exit status 1 if it could not start or the storage failed.
    /// </summary>
    private static async Task<int> HostAsync(WcfsMountOptions options, CancellationToken stopToken)
    {
        WcfsMount mount;
        try
        {
            mount = await WcfsMount.StartAsync(options, stopToken).ConfigureAwait(false);
        }
        catch (WcfsMountException e)
        {
            Log.Error("{Error}", e.Message);
            return 1;
        }
        await using (mount.ConfigureAwait(false))
        {
            var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // System.CommandLine turns SIGTERM/SIGINT into this token (and ends the process 2 s later).
            using var onStop = stopToken.Register(() => stop.TrySetResult());
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
            await Task.WhenAny(mount.Completion, stop.Task).ConfigureAwait(false);
            var storageFailed = mount.Completion.IsCompleted && mount.Completion.Result;
            await mount.StopAsync().ConfigureAwait(false);
            return storageFailed ? 1 : 0;
        }
    }
}
