// Several client processes through two SIGKILLs of their WCFS server (issue 16 part 3). Each client
// (`wcfs test-wcfs-client chaos`, ClientChaosCommand.cs) reads, writes dirty pages, holds pins (its
// snapshot is older than the others' commits) and commits, checking what it sees; every commit
// writes one token to all blocks. The server is killed twice while they run and restarted on the
// same storage. Goals: no client dies, no client saw an inconsistent view, and every commit a client
// reported is in storage whole (all blocks of @tid show its token). The GC-stress variant forces a
// full GC every millisecond in every client.
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Db;
using Wcfs.Actors.Tests.Server;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Client;

public sealed class ServerKillTests(ITestOutputHelper output) : WcfsDbTestBase
{
    private const int Blocks = 4, Clients = 3, Kills = 2;

    private sealed class Child(Process process, int id)
    {
        public Process Process { get; } = process;
        public int Id { get; } = id;
        public ConcurrentQueue<string> Out { get; } = new();
        public ConcurrentQueue<string> Err { get; } = new();
        public int Commits => Out.Count(l => l.StartsWith("commit ", StringComparison.Ordinal));
        public int Rounds => Out.Count(l => l.StartsWith("commit ", StringComparison.Ordinal) || l == "conflict");
    }

    private readonly SemaphoreSlim _lines = new(0);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Clients_survive_two_server_kills_with_no_death_no_isolation_violation_and_no_lost_or_partial_commit(bool gcStress)
    {
        Server.ResetWatchdog(ServerProcess.Scaled(900)); // several server lives; each phase is bounded below
        var oid = await CreateFileAsync();
        var children = new List<Child>();
        try
        {
            for (var i = 0; i < Clients; i++)
                children.Add(Start(i, gcStress));
            await WaitForAsync(() => children.All(c => c.Rounds >= 2), children, "every client did 2 rounds");
            for (var k = 0; k < Kills; k++)
            {
                var before = children.Sum(c => c.Commits);
                await Server.KillHardAsync();
                await Server.RestartAsync();
                await WaitForAsync(() => children.All(c => c.Rounds >= 2 + 3 * (k + 1)) && children.Sum(c => c.Commits) >= before + 3,
                    children, $"progress after kill {k + 1}");
            }
            foreach (var c in children)
                c.Process.StandardInput.Close();
            foreach (var c in children)
                await c.Process.WaitForExitAsync().WaitAsync(ServerProcess.Scaled(120));
        }
        finally
        {
            foreach (var c in children)
                if (!c.Process.HasExited)
                    c.Process.Kill(); // our own child
        }

        var deaths = children.Count(c => c.Process.ExitCode != 0);
        var violations = children.SelectMany(c => c.Out).Where(l => l.StartsWith("violation", StringComparison.Ordinal)).ToList();
        var commits = children.SelectMany(c => c.Out).Where(l => l.StartsWith("commit ", StringComparison.Ordinal))
            .Select(l => l.Split(' ')).Select(p => (Tid: Tid.Parse(p[1]), Token: p[2])).ToList();
        var bad = new List<string>();
        foreach (var (tid, token) in commits)
            for (var b = 0; b < Blocks; b++)
                if (ServerProcess.ReadBlock(Server.RevPath(tid, oid), b, Block) is var t && t != token)
                    bad.Add($"@{tid} block {b}: \"{t}\", committed \"{token}\"");
        var last = commits.MaxBy(c => c.Tid);
        for (var b = 0; b < Blocks; b++)
            if (ServerProcess.ReadBlock(Server.HeadPath(oid), b, Block) is var t && t != last.Token)
                bad.Add($"head block {b}: \"{t}\", last commit \"{last.Token}\"");
        var report = string.Join('\n', children.Select(c =>
            $"client {c.Id}: exit {c.Process.ExitCode}, {c.Commits} commits, {c.Rounds - c.Commits} conflicts; last: {c.Out.LastOrDefault()}; stderr: {string.Join(" | ", c.Err)}"));
        output.WriteLine($"{(gcStress ? "gc-stress " : "")}{Kills} kills, {Clients} clients: {deaths} deaths, {violations.Count} violations, {commits.Count} commits, {bad.Count} lost/partial\n{report}");
        Assert.True(deaths == 0, $"{deaths} client(s) died:\n{report}");
        Assert.True(violations.Count == 0, string.Join('\n', violations));
        Assert.True(bad.Count == 0, string.Join('\n', bad));
        Assert.All(children, c => Assert.StartsWith("done ", c.Out.Last()));
    }

    private async Task WaitForAsync(Func<bool> done, List<Child> children, string what)
    {
        var deadline = DateTime.UtcNow + ServerProcess.Scaled(180);
        while (!done())
        {
            var died = children.FirstOrDefault(c => c.Process.HasExited);
            Assert.True(died is null, $"client {died?.Id} exited ({(died?.Process.HasExited == true ? died.Process.ExitCode : 0)}) while waiting for {what}: {string.Join(" | ", died?.Err ?? new())}");
            var left = deadline - DateTime.UtcNow;
            Assert.True(left > TimeSpan.Zero, $"timed out waiting for {what}: " + string.Join("; ", children.Select(c => $"client {c.Id}: {c.Rounds} rounds")));
            await _lines.WaitAsync(left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1)); // an output line (or a 1 s re-check of exits)
        }
    }

    private async Task<Oid> CreateFileAsync()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c, Block);
        await c.CommitAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using (var v = await h.MmapAsync(0, (long)Blocks * Block / h.PageSize))
            for (var b = 0; b < Blocks; b++)
                "t0"u8.CopyTo(v.GetSpan((long)b * Block, Block));
        await c.CommitAsync();
        var oid = c.Root.Get<ZBigFile>("f").Oid;
        await c.DisposeAsync();
        await db.DisposeAsync();
        Dbs.Remove(db);
        return oid;
    }

    private Child Start(int id, bool gc)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { ServerProcess.WcfsDll, "test-wcfs-client", "chaos", Server.Mountpoint, Server.Url,
                     Blocks.ToString(CultureInfo.InvariantCulture), "120s", gc ? "1" : "0", id.ToString(CultureInfo.InvariantCulture) })
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
        var child = new Child(p, id);
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { child.Out.Enqueue(e.Data); _lines.Release(); } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) child.Err.Enqueue(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return child;
    }
}
