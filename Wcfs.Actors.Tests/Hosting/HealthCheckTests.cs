// The runtime's health check through Akka.Hosting (WithWcfs registers "wcfs"; the app's
// AddHealthChecks() runs it): a real `wcfs serve` child process, a Database hosted in the app's
// ActorSystem with an open connection (a watch link and its pinner), and the server SIGKILLed by its
// pid. Healthy while the server serves; Unhealthy naming the cause once it is gone (also while the
// conn waits for re-attach, which the description says); Healthy again when a new server took over.
// `wcfs status` prints the same server checks (Diagnostics/WcfsHealth.cs, ServerCheck.cs).
using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Hosting;
using Wcfs.Actors.Tests.Server;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Hosting;

public sealed class HealthCheckTests(ITestOutputHelper output) : IAsyncLifetime
{
    private ServerProcess _server = null!;
    private IHost _host = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync();
        var builder = new HostApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Services.AddHealthChecks();
        builder.Services.AddAkka("health-test", akka => akka.WithWcfs(o => { o.Autostart = false; o.MountRoot = _server.Dir; }));
        _host = builder.Build();
        await _host.StartAsync();
    }

    public async Task DisposeAsync()
    {
        try
        {
            await _host.StopAsync();
            _host.Dispose();
        }
        finally
        {
            await _server.DisposeAsync();
        }
    }

    private ActorSystem System => _host.Services.GetRequiredService<ActorSystem>();

    private Task<Database> OpenDatabaseAsync(TimeSpan? reattach = null) =>
        Database.OpenAsync(_server.Url, new DatabaseOptions
        {
            System = System,
            Wcfs = new WcfsClientOptions { Mountpoint = _server.Mountpoint, Autostart = false, ReattachTimeout = reattach },
        });

    private async Task<HealthReportEntry> CheckAsync()
    {
        var report = await _host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var e = report.Entries[WcfsHostingExtensions.HealthCheckName];
        output.WriteLine($"{e.Status}: {e.Description}");
        return e;
    }

    /// <summary>Runs the check until <paramref name="done"/> holds (bounded); a health check is polled, it has no change event.</summary>
    private async Task<HealthReportEntry> CheckUntilAsync(Func<HealthReportEntry, bool> done, string what)
    {
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(60);
        while (true)
        {
            var e = await CheckAsync();
            if (done(e))
                return e;
            Assert.True(DateTime.UtcNow < deadline, $"{what} within 60s; the check says {e.Status}: {e.Description}");
            await Task.Delay(100); // why: polled as a host polls it; the state changes asynchronously (link EOF, re-attach)
        }
    }

    [Fact]
    public async Task The_check_is_healthy_before_any_client_joined()
    {
        var e = await CheckAsync();
        Assert.Equal(HealthStatus.Healthy, e.Status);
        Assert.Contains("no WCFS client", e.Description);
        Assert.Contains(WcfsHostingExtensions.HealthCheckName, e.Tags);
    }

    [Fact]
    public async Task The_check_turns_unhealthy_naming_the_cause_when_the_server_is_killed_and_healthy_again_when_a_new_server_took_over()
    {
        await using var db = await OpenDatabaseAsync();
        await using var conn = await db.OpenConnectionAsync();
        var healthy = await CheckAsync();
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        var pid = _server.Process.Id;
        Assert.Contains($"pid {pid}", healthy.Description);
        Assert.Contains("1 conn, its watch link up", healthy.Description);
        Assert.Contains("1 pinner alive", healthy.Description);
        // `wcfs status` runs the same server checks: each of its lines is a line of the health check
        var status = await WcfsCli.RunAsync("status", _server.Url, "--mountpoint", _server.Mountpoint);
        Assert.True(status.ExitCode == 0, status.ToString());
        foreach (var line in status.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Contains(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2], healthy.Data.Keys);

        await _server.KillHardAsync(); // SIGKILL of our own child, by pid
        var gone = await CheckUntilAsync(e => e.Status == HealthStatus.Unhealthy && e.Description!.Contains("waiting for re-attach", StringComparison.Ordinal),
            "unhealthy, the conn waiting for re-attach");
        Assert.Contains($"server process {pid} is gone", gone.Description);
        Assert.Contains("server gone, waiting for re-attach (wcfs.client.reattach-timeout 30s)", gone.Description);
        Assert.StartsWith("fail: ", (string)gone.Data["stats"]);

        await _server.RestartAsync();
        var back = await CheckUntilAsync(e => e.Status == HealthStatus.Healthy, "healthy again after the restart");
        Assert.Contains($"pid {_server.Process.Id}", back.Description);
        Assert.Contains("1 conn, its watch link up", back.Description);
    }

    [Fact]
    public async Task Without_re_attach_the_killed_servers_conn_is_reported_with_its_watch_link_down()
    {
        await using var db = await OpenDatabaseAsync(reattach: TimeSpan.Zero);
        await using var conn = await db.OpenConnectionAsync();
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync()).Status);
        var pid = _server.Process.Id;

        await _server.KillHardAsync();
        var e = await CheckUntilAsync(e => e.Description!.Contains("watch link down", StringComparison.Ordinal), "the conn's link reported down");
        Assert.Equal(HealthStatus.Unhealthy, e.Status);
        Assert.Contains($"server process {pid} is gone", e.Description);
        Assert.Contains("open a new connection", e.Description);
    }
}
