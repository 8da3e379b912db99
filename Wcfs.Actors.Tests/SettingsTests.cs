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
}
