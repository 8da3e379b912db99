using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Virtmem;
using Xunit;

namespace Wcfs.Actors.Tests.Virtmem;

public class VirtmemSettingsTests
{
    [Fact]
    public void Defaults_come_from_reference_conf()
    {
        var s = VirtmemProtocol.Settings.Default;
        Assert.Equal(2L << 20, s.PageSize);
        Assert.Equal(4L << 30, s.RamLimit);
        Assert.Equal(TimeSpan.FromMinutes(5), s.AskTimeout);
    }

    [Fact]
    public void An_invalid_ram_limit_is_an_error_naming_the_key()
    {
        var e = Assert.Throws<ConfigurationException>(() =>
            WcfsSettings.FromConfig(ConfigurationFactory.ParseString("wcfs.virtmem.ram-limit = lots")));
        Assert.Contains("wcfs.virtmem.ram-limit", e.Message);
    }

    [Fact]
    public void VirtmemActor_props_name_its_dedicated_dispatcher_declared_in_reference_conf()
    {
        Assert.Equal(VirtmemProtocol.DispatcherId, VirtmemProtocol.Props(VirtmemProtocol.Settings.Default).Dispatcher);
        Assert.True(WcfsSettings.Reference.HasPath(VirtmemProtocol.DispatcherId));
    }
}
