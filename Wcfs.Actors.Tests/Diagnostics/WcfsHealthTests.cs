// The one rule from check lines to a health status (WcfsHealth.StatusOf; `wcfs status` and the
// health check both use it) and the result the health check reports - pure, no server.
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wcfs.Actors.Diagnostics;
using Xunit;

namespace Wcfs.Actors.Tests.Diagnostics;

public sealed class WcfsHealthTests
{
    private static readonly ServerCheckLine Mount = ServerCheckLine.Pass("mount", "/mnt/x");
    private static readonly ServerCheckLine Server = ServerCheckLine.Pass("server", "pid 7");
    private static readonly ServerCheckLine Conns = ServerCheckLine.Pass("conns", "1 conn, its watch link up");

    [Fact]
    public void The_worst_line_decides_the_status_and_no_line_is_healthy()
    {
        Assert.Equal(HealthStatus.Healthy, WcfsHealth.StatusOf([]));
        Assert.Equal(HealthStatus.Healthy, WcfsHealth.StatusOf([Mount, Server, Conns]));
        Assert.Equal(HealthStatus.Degraded, WcfsHealth.StatusOf([Mount, Server, ServerCheckLine.Warn("conns", "re-attaching")]));
        Assert.Equal(HealthStatus.Unhealthy, WcfsHealth.StatusOf([Mount, ServerCheckLine.Fail("server", "gone"), ServerCheckLine.Warn("conns", "re-attaching")]));
    }

    [Fact]
    public void An_unhealthy_result_describes_only_the_problems_and_keeps_every_line_as_data()
    {
        var r = WcfsHealth.ToResult([Mount, ServerCheckLine.Fail("server", "server process 7 is gone"), ServerCheckLine.Warn("conns", "server gone, waiting for re-attach")]);
        Assert.Equal(HealthStatus.Unhealthy, r.Status);
        Assert.Equal("WCFS: server: server process 7 is gone; conns: server gone, waiting for re-attach", r.Description);
        Assert.Equal("ok: /mnt/x", r.Data["mount"]);
        Assert.Equal("warn: server gone, waiting for re-attach", r.Data["conns"]);
    }

    [Fact]
    public void A_healthy_result_summarises_server_conns_and_pinners()
    {
        var r = WcfsHealth.ToResult([Mount, Server, ServerCheckLine.Pass("stats", "answers"), Conns, ServerCheckLine.Pass("pinners", "1 pinner alive")]);
        Assert.Equal(HealthStatus.Healthy, r.Status);
        Assert.Equal("WCFS: server pid 7; conns 1 conn, its watch link up; pinners 1 pinner alive", r.Description);
    }
}
