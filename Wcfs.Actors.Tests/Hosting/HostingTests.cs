using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Wcfs.Actors.Hosting;
using Xunit;

namespace Wcfs.Actors.Tests.Hosting;

public class HostingTests
{
    private static IHost BuildHost(string hocon, Action<WcfsOptions>? options) =>
        new HostBuilder()
            .ConfigureServices(services => services.AddAkka("hosting-test", b =>
            {
                b.AddHocon(hocon, HoconAddMode.Prepend);
                b.WithWcfs(options);
            }))
            .Build();

    [Fact]
    public async Task A_hosted_app_resolves_settings_from_its_hocon_options_and_reference_conf()
    {
        using var host = BuildHost("wcfs.server.pin-timeout = 7s\nwcfs.mount-root = \"/tmp/from-hocon\"",
            o => { o.MountRoot = "/tmp/from-options"; o.PageSize = 64 << 10; });
        await host.StartAsync();
        try
        {
            var rt = WcfsRuntime.Get(host.Services.GetRequiredService<ActorSystem>());
            Assert.Equal(TimeSpan.FromSeconds(7), rt.Settings.Server.PinTimeout);      // application HOCON
            Assert.Equal("/tmp/from-options", rt.Settings.MountRoot);                  // options win over HOCON
            Assert.Equal(64L << 10, rt.Settings.Client.PageSize);
            Assert.Equal(TimeSpan.FromMinutes(1), rt.Settings.Server.HistoryWindow);   // reference.conf
            Assert.Same(rt, WcfsRuntime.Get(rt.System));                                // one per system
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task An_invalid_setting_fails_the_host_start_naming_the_key()
    {
        using var host = BuildHost("wcfs.server.history-window = soon", null);
        var e = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        var all = string.Join(" | ", Flatten(e).Select(x => x.Message));
        Assert.Contains("wcfs.server.history-window", all);
        await host.StopAsync();
    }

    [Fact]
    public void WcfsRuntime_works_without_hosting_on_a_plain_actor_system()
    {
        using var system = ActorSystem.Create("plain", ConfigurationFactory.ParseString("wcfs.autostart = off"));
        var rt = WcfsRuntime.Get(system);
        Assert.False(rt.Settings.Autostart);
        Assert.Equal("/dev/shm/wcfs", rt.Settings.MountRoot);
    }

    private static IEnumerable<Exception> Flatten(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
            if (x is AggregateException ag)
                foreach (var inner in ag.InnerExceptions.SelectMany(Flatten))
                    yield return inner;
        }
    }
}
