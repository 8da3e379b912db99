// RuntimeKnobsTests - the runtime settings a child .NET process gets, and that the user's own value
// wins. (That an autostarted server really has them: ServerLifecycleTests reads its environ.)
using System.Diagnostics;
using Wcfs.Actors.Hosting;
using Xunit;

namespace Wcfs.Actors.Tests.Hosting;

public sealed class RuntimeKnobsTests
{
    [Fact]
    public void A_child_gets_the_knob_unless_its_environment_has_one()
    {
        var psi = new ProcessStartInfo("true");
        psi.Environment.Remove("DOTNET_JitHostMaxSlabCache");
        RuntimeKnobs.ApplyTo(psi);
        Assert.Equal("1", psi.Environment["DOTNET_JitHostMaxSlabCache"]);

        var mine = new ProcessStartInfo("true");
        mine.Environment["DOTNET_JitHostMaxSlabCache"] = "0x100000";
        RuntimeKnobs.ApplyTo(mine);
        Assert.Equal("0x100000", mine.Environment["DOTNET_JitHostMaxSlabCache"]);
    }

    [Fact]
    public void The_knob_reaches_the_started_process()
    {
        var psi = new ProcessStartInfo("cat", ["/proc/self/environ"]) { RedirectStandardOutput = true };
        psi.Environment.Remove("DOTNET_JitHostMaxSlabCache");
        using var p = Process.Start(RuntimeKnobs.ApplyTo(psi))!;
        var environ = p.StandardOutput.ReadToEnd().Split('\0');
        p.WaitForExit();
        Assert.Contains("DOTNET_JitHostMaxSlabCache=1", environ);
    }
}
