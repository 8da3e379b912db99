// WcfsHostingExtensions - Akka.Hosting integration: builder.WithWcfs(options => ...).
//
// Options map one-to-one to HOCON keys under `wcfs` (API.md §3); what is not set keeps the value
// from the application's HOCON or, failing that, from reference.conf. The runtime is created at
// start-up so that invalid settings fail the host's start, naming the key.
using System.Text;
using Akka.Hosting;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Diagnostics;

namespace Wcfs.Actors.Hosting;

/// <summary>Settings of <c>wcfs { }</c> for Akka.Hosting; null = leave as configured.</summary>
public sealed class WcfsOptions
{
    /// <summary><c>wcfs.storage</c>: storage URL ("" = embedded SQLite default).</summary>
    public string? Storage { get; set; }
    /// <summary><c>wcfs.data-dir</c>.</summary>
    public string? DataDir { get; set; }
    /// <summary><c>wcfs.mount-root</c>.</summary>
    public string? MountRoot { get; set; }
    /// <summary><c>wcfs.autostart</c>.</summary>
    public bool? Autostart { get; set; }
    /// <summary><c>wcfs.server.pin-timeout</c>.</summary>
    public TimeSpan? PinTimeout { get; set; }
    /// <summary><c>wcfs.server.history-window</c>.</summary>
    public TimeSpan? HistoryWindow { get; set; }
    /// <summary><c>wcfs.server.readahead</c> in bytes.</summary>
    public long? Readahead { get; set; }
    /// <summary><c>wcfs.server.rev-dir-idle-timeout</c>.</summary>
    public TimeSpan? RevDirIdleTimeout { get; set; }
    /// <summary><c>wcfs.client.page-size</c> in bytes.</summary>
    public long? PageSize { get; set; }

    /// <summary>The HOCON of the options that are set.</summary>
    public string ToHocon()
    {
        var sb = new StringBuilder();
        void Add(string key, string? value) { if (value is not null) sb.Append(key).Append(" = ").Append(value).Append('\n'); }
        static string Quote(string s) => "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        static string Ms(TimeSpan t) => DurationText.Format(t);
        static string Bytes(long n) => SizeText.Format(n);
        Add("wcfs.storage", Storage is null ? null : Quote(Storage));
        Add("wcfs.data-dir", DataDir is null ? null : Quote(DataDir));
        Add("wcfs.mount-root", MountRoot is null ? null : Quote(MountRoot));
        Add("wcfs.autostart", Autostart is null ? null : Autostart.Value ? "on" : "off");
        Add("wcfs.server.pin-timeout", PinTimeout is { } p ? Ms(p) : null);
        Add("wcfs.server.history-window", HistoryWindow is { } h ? Ms(h) : null);
        Add("wcfs.server.readahead", Readahead is { } r ? Bytes(r) : null);
        Add("wcfs.server.rev-dir-idle-timeout", RevDirIdleTimeout is { } i ? Ms(i) : null);
        Add("wcfs.client.page-size", PageSize is { } s ? Bytes(s) : null);
        return sb.ToString();
    }
}

/// <summary>Akka.Hosting registration of the wcfs-actors runtime.</summary>
public static class WcfsHostingExtensions
{
    /// <summary>The name of the runtime's health check (<see cref="WcfsHealthCheck"/>), also its tag.</summary>
    public const string HealthCheckName = "wcfs";

    /// <summary>
    /// Adds the wcfs-actors runtime: <paramref name="configure"/>'s options over the application's
    /// HOCON, the <see cref="WcfsRuntime"/> extension started with the ActorSystem (it adds
    /// reference.conf as fallback; invalid settings fail the start, naming the key), and the health
    /// check "wcfs" (<see cref="WcfsHealthCheck"/>: servers reachable, watch links up, pinners alive;
    /// the app's <c>services.AddHealthChecks()</c> makes it visible).
    /// </summary>
    public static AkkaConfigurationBuilder WithWcfs(this AkkaConfigurationBuilder builder, Action<WcfsOptions>? configure = null)
    {
        var options = new WcfsOptions();
        configure?.Invoke(options);
        var hocon = options.ToHocon();
        if (hocon.Length > 0)
            builder.AddHocon(hocon, HoconAddMode.Prepend);
        return builder
            .WithHealthCheck(HealthCheckName, new WcfsHealthCheck(), HealthStatus.Unhealthy, [HealthCheckName])
            .AddStartup((system, _) => WcfsRuntime.Get(system));
    }
}
