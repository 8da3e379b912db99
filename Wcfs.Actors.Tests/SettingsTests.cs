using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Xunit;

namespace Wcfs.Actors.Tests;

public class SettingsTests
{
    [Fact]
    public void Defaults_come_from_reference_conf()
    {
        var s = WcfsSettings.Default;
        Assert.Equal(TimeSpan.FromSeconds(30), s.Server.PinTimeout);
        Assert.Equal(TimeSpan.FromMinutes(1), s.Server.HistoryWindow);
        Assert.Equal(4L << 20, s.Server.Readahead);
        Assert.Equal(TimeSpan.FromMinutes(5), s.Server.RevDirIdleTimeout);
        Assert.Equal(2L << 20, s.Client.PageSize);
        Assert.Equal("/dev/shm/wcfs", s.MountRoot);
        Assert.True(s.Autostart);
        Assert.EndsWith("/.local/share/wcfs/wcfs.db", s.EffectiveStorageUrl);
        Assert.StartsWith("sqlite:///", s.EffectiveStorageUrl);
    }

    [Fact]
    public void User_config_overrides_the_defaults()
    {
        var s = WcfsSettings.FromHocon("wcfs { storage = \"sqlite:///tmp/x.db\", server.pin-timeout = 3s, client.page-size = 64KiB, autostart = off }");
        Assert.Equal("sqlite:///tmp/x.db", s.EffectiveStorageUrl);
        Assert.Equal(TimeSpan.FromSeconds(3), s.Server.PinTimeout);
        Assert.Equal(64L << 10, s.Client.PageSize);
        Assert.False(s.Autostart);
    }

    [Theory]
    [InlineData("wcfs.server.pin-timeout = banana", "wcfs.server.pin-timeout")]
    [InlineData("wcfs.server.pin-timeout = 0s", "wcfs.server.pin-timeout")]
    [InlineData("wcfs.client.page-size = 3000", "wcfs.client.page-size")]
    [InlineData("wcfs.server.readahead = -1MiB", "wcfs.server.readahead")]
    [InlineData("wcfs.autostart = maybe", "wcfs.autostart")]
    [InlineData("wcfs.mount-root = \"\"", "wcfs.mount-root")]
    public void Invalid_settings_fail_naming_the_key(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => WcfsSettings.FromHocon(hocon));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Every_section_of_wcfs_is_read_into_the_one_settings_object()
    {
        var s = WcfsSettings.FromHocon("wcfs { client { ask-timeout = 1.5s, start-timeout = 2m }\n virtmem { ram-limit = 64MiB, ask-timeout = 500ms } }");
        Assert.Equal(TimeSpan.FromSeconds(1.5), s.Client.AskTimeout);
        Assert.Equal(TimeSpan.FromMinutes(2), s.Client.StartTimeout);
        Assert.Equal(64L << 20, s.Virtmem.RamLimit);
        Assert.Equal(TimeSpan.FromMilliseconds(500), s.Virtmem.AskTimeout);
        Assert.Empty(s.UnknownKeys);
    }

    [Fact]
    public void An_unknown_key_under_wcfs_is_reported_by_name_and_dispatcher_tuning_is_not()
    {
        var s = WcfsSettings.FromHocon("wcfs { server.pin-timout = 3s, clinet.page-size = 4KiB, client.dispatcher.throughput = 5 }");
        Assert.Equal(["wcfs.clinet.page-size", "wcfs.server.pin-timout"], s.UnknownKeys);
    }

    [Theory]
    [InlineData("30s", 30_000)]
    [InlineData("500ms", 500)]
    [InlineData("1m", 60_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("250", 250)]
    public void The_cli_reads_durations_with_the_same_grammar_as_hocon(string text, double ms)
    {
        Assert.True(DurationText.TryParse(text, out var t));
        Assert.Equal(TimeSpan.FromMilliseconds(ms), t);
        Assert.Equal(t, ConfigurationFactory.ParseString($"v = {text}").GetTimeSpan("v", null, false));
        Assert.True(DurationText.TryParse(DurationText.Format(t), out var back));
        Assert.Equal(t, back);
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("")]
    [InlineData("3s\nwcfs.storage = x")]
    public void The_cli_rejects_what_is_not_a_duration(string text) => Assert.False(DurationText.TryParse(text, out _));

    [Theory]
    [InlineData("4MiB", 4L << 20)]
    [InlineData("65536", 65536)]
    [InlineData("2M", 2L << 20)]
    [InlineData("64KiB", 64L << 10)]
    public void The_cli_reads_sizes_with_the_same_grammar_as_hocon(string text, long bytes)
    {
        Assert.True(SizeText.TryParse(text, out var n));
        Assert.Equal(bytes, n);
    }
}
