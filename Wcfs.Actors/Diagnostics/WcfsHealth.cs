// WcfsHealth - the health of one WcfsRuntime: for every mount its WCFS clients use, the server
// checks of ServerCheck (the same RunAsync `wcfs status` prints: mount, server process, .wcfs/stats
// answering, figures) and the runtime's own side: its conns' watch links and their pinners. The
// Akka.Hosting health check (WcfsHealthCheck, registered by WithWcfs) and WcfsRuntime.CheckHealthAsync
// report exactly this.
//
// Lines and statuses (one rule, StatusOf: the worst line wins):
//   mount/server/stats   ServerCheck: fail when the mount is gone, the server process is gone, or
//                        .wcfs/stats does not answer (within the timeout: a hung server)
//   conns                ok: every conn's watch link is up; warn: a conn re-attaches (its server died;
//                        it waits up to wcfs.client.reattach-timeout for a new one, see below); fail: a
//                        conn's link is down (broken: open a new connection), or a conn does not answer
//   pinners              ok: every live conn's PinnerActor (and so its reader of the native pinner's
//                        events) runs; fail: one stopped
// While the server is gone and a conn waits for re-attach, the report is Unhealthy: the server lines
// fail (reads of pages not yet loaded wait), and the conns line says "server gone, waiting for
// re-attach" with the time left. Once a new server took over it is Healthy again; if none came, the
// link is down and the conns line says so.
//
// Threading: CheckAsync may run on any thread, concurrently; it asks the client actors (the edge of
// the runtime, STYLE.md: Ask with a timeout) and never blocks a dispatcher. A conn that closes while
// it is asked is skipped, not reported.
using System.Globalization;
using Akka.Actor;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Wcfs.Actors.Client;
using Wcfs.Actors.Hosting;

namespace Wcfs.Actors.Diagnostics;

/// <summary>The health checks of a runtime (see the file's design comment).</summary>
internal static class WcfsHealth
{
    /// <summary>How long one check may wait for a server's stats or an actor's answer.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>The one rule from lines to a status: the worst line (no line: healthy).</summary>
    public static HealthStatus StatusOf(IEnumerable<ServerCheckLine> lines) =>
        lines.Select(l => l.Status).DefaultIfEmpty(HealthStatus.Healthy).Min();

    /// <summary>The lines of every mount the runtime's clients use, and of their conns.</summary>
    public static async Task<IReadOnlyList<ServerCheckLine>> RunAsync(WcfsRuntime runtime, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var clients = runtime.Clients;
        if (clients.Count == 0)
            return [ServerCheckLine.Pass("clients", "no WCFS client in this runtime yet (a Database joins its server with its first connection)")];
        var lines = new List<ServerCheckLine>();
        var mounts = clients.GroupBy(c => c.Mountpoint, StringComparer.Ordinal).ToList();
        foreach (var mount in mounts)
        {
            var prefix = mounts.Count > 1 ? mount.Key + " " : "";
            var server = await ServerCheck.RunAsync(mount.First().Url, mount.Key, timeout, cancellationToken).ConfigureAwait(false);
            var conns = await ConnLinesAsync(mount.ToList(), timeout).ConfigureAwait(false);
            lines.AddRange(server.Concat(conns).Select(l => l with { Name = prefix + l.Name }));
        }
        return lines;
    }

    /// <summary>The report as a health check result: status, a one-line description (the problems, or a summary), every line as data.</summary>
    public static HealthCheckResult ToResult(IReadOnlyList<ServerCheckLine> lines)
    {
        var status = StatusOf(lines);
        var data = lines.ToDictionary(l => l.Name, l => (object)$"{l.Word}: {l.Detail}", StringComparer.Ordinal);
        var description = status == HealthStatus.Healthy
            ? "WCFS: " + string.Join("; ", lines.Where(l => l.Name.EndsWith("server", StringComparison.Ordinal) || l.Name.EndsWith("conns", StringComparison.Ordinal)
                || l.Name.EndsWith("pinners", StringComparison.Ordinal) || l.Name == "clients").Select(l => $"{l.Name} {l.Detail}"))
            : "WCFS: " + string.Join("; ", lines.Where(l => !l.Ok).Select(l => $"{l.Name}: {l.Detail}"));
        return new HealthCheckResult(status, description, data: data);
    }

    private static async Task<IReadOnlyList<ServerCheckLine>> ConnLinesAsync(IReadOnlyList<WcfsRuntime.ClientEntry> clients, TimeSpan timeout)
    {
        var states = new List<ConnProtocol.ConnState>();
        var problems = new List<ServerCheckLine>();
        foreach (var client in clients)
        {
            IReadOnlyList<IActorRef> conns;
            try
            {
                conns = (await client.Actor.Ask<WcfsProtocol.Conns>(new WcfsProtocol.GetConns(), timeout).ConfigureAwait(false)).Refs;
            }
            catch (AskTimeoutException)
            {
                problems.Add(ServerCheckLine.Fail("conns", $"the client actor {client.Actor.Path} does not answer within {Seconds(timeout)}: the runtime is overloaded or stopping"));
                continue;
            }
            foreach (var conn in conns)
            {
                try
                {
                    states.Add(await conn.Ask<ConnProtocol.ConnState>(new ConnProtocol.GetState(), timeout).ConfigureAwait(false));
                }
                catch (AskTimeoutException)
                {
                    var still = await client.Actor.Ask<WcfsProtocol.Conns>(new WcfsProtocol.GetConns(), timeout).ConfigureAwait(false);
                    if (still.Refs.Contains(conn)) // else it closed meanwhile: not a problem
                        problems.Add(ServerCheckLine.Fail("conns", $"conn actor {conn.Path.Name} does not answer within {Seconds(timeout)}"));
                }
            }
        }
        return [ConnsLine(states, problems, clients[0].ReattachTimeout), PinnersLine(states)];
    }

    private static ServerCheckLine ConnsLine(List<ConnProtocol.ConnState> states, List<ServerCheckLine> problems, TimeSpan reattachTimeout)
    {
        var broken = states.Where(s => s.Broken is not null).ToList();
        if (broken.Count > 0)
            return ServerCheckLine.Fail("conns", string.Join("; ", broken.Select(s =>
                $"conn @{s.At}: watch link down ({s.Broken}): its mappings cannot be served; open a new connection")));
        if (problems.Count > 0)
            return problems[0];
        var waiting = states.Where(s => s.Reattaching is not null).ToList();
        if (waiting.Count > 0)
            return ServerCheckLine.Warn("conns", $"server gone, waiting for re-attach (wcfs.client.reattach-timeout {Seconds(reattachTimeout)}): "
                + string.Join("; ", waiting.Select(s => $"conn @{s.At}: {s.Reattaching}")));
        return ServerCheckLine.Pass("conns", states.Count == 1 ? "1 conn, its watch link up" : $"{states.Count} conns, watch links up");
    }

    private static ServerCheckLine PinnersLine(List<ConnProtocol.ConnState> states)
    {
        var live = states.Where(s => s.Broken is null).ToList();
        var stopped = live.Where(s => !s.PinnerAlive).ToList();
        return stopped.Count > 0
            ? ServerCheckLine.Fail("pinners", string.Join("; ", stopped.Select(s => $"the pinner of conn @{s.At} stopped: its pins are not followed; open a new connection")))
            : ServerCheckLine.Pass("pinners", live.Count == 1 ? "1 pinner alive" : $"{live.Count} pinners alive");
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.#", CultureInfo.InvariantCulture) + "s";
}

/// <summary>
/// The health check of the wcfs-actors runtime for Akka.Hosting (registered by <c>WithWcfs</c> as "wcfs"):
/// the server of every mount the runtime's clients use is reachable, their watch links are up, their
/// pinners alive. Unhealthy when the server is gone (also while a conn waits for re-attach); the
/// description names the cause and what to do.
/// </summary>
public sealed class WcfsHealthCheck : Akka.Hosting.IAkkaHealthCheck
{
    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(Akka.Hosting.AkkaHealthCheckContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        return WcfsRuntime.Get(context.ActorSystem).CheckHealthAsync(cancellationToken);
    }
}
