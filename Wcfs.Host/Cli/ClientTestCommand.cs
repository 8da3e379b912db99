// ClientTestCommand - hidden `wcfs test-wcfs-client ...`: a client process for the WCFS client's
// tests, for behaviors that end the process (an access to a closed mapping).
//
//   test-wcfs-client close-and-read <mnt> <url> <at> <oidA> <oidB> file|conn
//       joins the server, connects at <at>, opens A and B, maps block 0 of each and prints
//       "A <text>" and "B <text>"; then closes A's FileH (file) or the whole Conn (conn) and prints
//       "closed"; with file, reads B again and prints "B <text>"; then reads A, which must end the
//       process with wcfs's one-line message; if it does not, prints "A survived" and exits 3.
//   test-wcfs-client touch <mnt> <url> <blocks> <blk> read|write <reattach-timeout>
//       opens a Database on the server (autostart off, wcfs.client.reattach-timeout as given), maps
//       blocks [0, blocks) of the ZBigFile named "f" (2 MiB blocks, an overlay VMA over WCFS), reads
//       block 0 and prints "ready <text>"; then waits for a line on stdin and reads (read) or writes
//       (write) one byte of block blk - never touched before, so it faults into the server - and
//       prints "touched <byte>" and exits 0, or ends with wcfs's one-line message when that cannot be
//       served.
//   test-wcfs-client survive <mnt> <url> <blocks> <reattach-timeout> on|off
//       the same Database and mapping (autostart on: the client starts a new server when its server died); writes "dirty" to block 1 (a dirty page) and prints
//       "ready <at> <text of block 0>"; waits for a line on stdin (the test kills and restarts the
//       server meanwhile), then prints, one line each: "read10 <text>" (a page never touched: faults
//       into the dead mount and waits for the re-attach), "read2 <text>" (must be the snapshot's),
//       "dirty1 <text>", writes "w12" to block 12 (a write fault copying a base page), commits and
//       prints "committed <at>", then "after2 <text>" (head after the commit) and exits 0.
//   test-wcfs-client gap-commit <mnt> <url> <blocks> <reattach-timeout>
//       the same Database and mapping (autostart off); writes "gap1" to block 1 and prints "ready <at>";
//       waits for a line on stdin (the test killed the server before sending it), prints "committing"
//       and commits while no server is mounted (the test restarts one, or not); then prints
//       "committed <tid>", "dirty1 <text>", "read5 <text>" (as of that tid), writes "gap3" to block 3
//       (never touched: a write fault that copies a base page from the new server), commits again and
//       prints "committed2 <tid>", "after1 <text>", "after3 <text>", "after5 <text>" and exits 0. A commit that fails ends the process with one line
//       on stderr (CliErrors: "wcfs: commit @<tid> is stored in the database, but ...") and exit 1.
//   test-wcfs-client chaos <mnt> <url> <blocks> <reattach-timeout> <gc:0|1> <id>
//       a client of the server-kill runs: ClientChaosCommand.cs.
using System.CommandLine;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Db;
using Wcfs.Actors.Virtmem;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static class ClientTestCommand
{
    public static Command Create()
    {
        var cmd = new Command("test-wcfs-client", "test helper: a WCFS client process") { Hidden = true };
        var mnt = new Argument<string>("mountpoint");
        var url = new Argument<string>("url");
        var at = new Argument<string>("at");
        var a = new Argument<string>("oidA");
        var b = new Argument<string>("oidB");
        var what = new Argument<string>("what") { Description = "file|conn" };
        var close = new Command("close-and-read") { mnt, url, at, a, b, what };
        close.SetAction((pr, _) => CloseAndReadAsync(pr.GetValue(mnt)!, pr.GetValue(url)!, Tid.Parse(pr.GetValue(at)!),
            Oid.Parse(pr.GetValue(a)!), Oid.Parse(pr.GetValue(b)!), pr.GetValue(what)!));
        cmd.Subcommands.Add(close);
        var blocks = new Argument<long>("blocks");
        var blk = new Argument<long>("blk");
        var mode = new Argument<string>("mode") { Description = "read|write" };
        var reattach = new Argument<string>("reattach-timeout");
        var touch = new Command("touch") { mnt, url, blocks, blk, mode, reattach };
        touch.SetAction((pr, _) => TouchAsync(pr.GetValue(mnt)!, pr.GetValue(url)!, pr.GetValue(blocks), pr.GetValue(blk), pr.GetValue(mode)!, pr.GetValue(reattach)!));
        cmd.Subcommands.Add(touch);
        var autostart = new Argument<string>("autostart") { Description = "on|off" };
        var survive = new Command("survive") { mnt, url, blocks, reattach, autostart };
        survive.SetAction((pr, _) => SurviveAsync(pr.GetValue(mnt)!, pr.GetValue(url)!, pr.GetValue(blocks), pr.GetValue(reattach)!, pr.GetValue(autostart) == "on"));
        cmd.Subcommands.Add(survive);
        var gap = new Command("gap-commit") { mnt, url, blocks, reattach };
        gap.SetAction((pr, _) => CliErrors.RunAsync(() => GapCommitAsync(pr.GetValue(mnt)!, pr.GetValue(url)!, pr.GetValue(blocks), pr.GetValue(reattach)!)));
        cmd.Subcommands.Add(gap);
        var gc = new Argument<int>("gc");
        var id = new Argument<string>("id");
        var chaos = new Command("chaos") { mnt, url, blocks, reattach, gc, id };
        chaos.SetAction((pr, _) => CliErrors.RunAsync(async () =>
        {
            var (m, r) = (pr.GetValue(mnt)!, pr.GetValue(reattach)!);
            using var system = System(m, r);
            return await ClientChaosCommand.RunAsync(system, () => OpenAsync(system, m, pr.GetValue(url)!), pr.GetValue(blocks), pr.GetValue(gc) == 1, pr.GetValue(id)!);
        }));
        cmd.Subcommands.Add(chaos);
        return cmd;
    }

    private static string Text(Mapping m) => Encoding.UTF8.GetString(m.Block(m.BlkStart)).TrimEnd('\0');

    private static async Task<int> CloseAndReadAsync(string mnt, string url, Tid at, Oid a, Oid b, string what)
    {
        await using var client = await WcfsClient.JoinAsync(url, new WcfsClientOptions { Mountpoint = mnt, Autostart = false });
        var conn = await client.ConnectAsync(at);
        var fa = await conn.OpenAsync(a);
        var fb = await conn.OpenAsync(b);
        var ma = await fa.MmapAsync(0, 1);
        var mb = await fb.MmapAsync(0, 1);
        Console.WriteLine($"A {Text(ma)}");
        Console.WriteLine($"B {Text(mb)}");
        if (what == "file")
            await fa.DisposeAsync();
        else
            await conn.DisposeAsync();
        Console.WriteLine("closed");
        if (what == "file")
            Console.WriteLine($"B {Text(mb)}");
        Console.Out.Flush();
        Console.WriteLine($"A survived: {Text(ma)}");
        return 3;
    }

    private const int Block = 2 << 20;

    private static ActorSystem System(string mnt, string reattach) =>
        ActorSystem.Create("wcfs-test-client", Wcfs.Actors.Hosting.TimerQueueScheduler.For(StderrLogger.For(ConfigurationFactory.ParseString(
            $"wcfs.mount-root = \"{Path.GetDirectoryName(mnt)}\"\nwcfs.autostart = off\nwcfs.client.reattach-timeout = {reattach}").WithFallback(WcfsSettings.Reference))));

    private static Task<Database> OpenAsync(ActorSystem system, string mnt, string url, bool autostart = false) =>
        Database.OpenAsync(url, new DatabaseOptions { System = system, Wcfs = new WcfsClientOptions { System = system, Mountpoint = mnt, Autostart = autostart } });

    private static string Text(Vma v, long blk) => Encoding.UTF8.GetString(v.GetSpan(blk * Block, 64)).TrimEnd('\0');

    private static async Task<int> TouchAsync(string mnt, string url, long blocks, long blk, string mode, string reattach)
    {
        using var system = System(mnt, reattach);
        await using var db = await OpenAsync(system, mnt, url);
        await using var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, blocks * Block / h.PageSize);
        Console.WriteLine($"ready {Text(v, 0)}");
        Console.Out.Flush();
        await Console.In.ReadLineAsync();
        var span = v.GetSpan(blk * Block, Block);
        if (mode == "write")
            span[1] = 42;
        Console.WriteLine($"touched {span[0]}");
        return 0;
    }

    private static async Task<int> SurviveAsync(string mnt, string url, long blocks, string reattach, bool autostart)
    {
        using var system = System(mnt, reattach);
        await using var db = await OpenAsync(system, mnt, url, autostart);
        await using var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, blocks * Block / h.PageSize);
        Encoding.UTF8.GetBytes("dirty").CopyTo(v.GetSpan(1 * Block, Block));
        Console.WriteLine($"ready {c.At} {Text(v, 0)}");
        Console.Out.Flush();
        await Console.In.ReadLineAsync();
        Console.WriteLine($"read10 {Text(v, 10)}");
        Console.WriteLine($"read2 {Text(v, 2)}");
        Console.WriteLine($"dirty1 {Text(v, 1)}");
        Encoding.UTF8.GetBytes("w12").CopyTo(v.GetSpan(12 * Block, Block));
        await c.CommitAsync();
        Console.WriteLine($"committed {c.At}");
        Console.WriteLine($"after2 {Text(v, 2)}");
        return 0;
    }

    private static async Task<int> GapCommitAsync(string mnt, string url, long blocks, string reattach)
    {
        using var system = System(mnt, reattach);
        await using var db = await OpenAsync(system, mnt, url);
        var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, blocks * Block / h.PageSize);
        Encoding.UTF8.GetBytes("gap1").CopyTo(v.GetSpan(1 * Block, Block));
        Console.WriteLine($"ready {c.At}");
        Console.Out.Flush();
        await Console.In.ReadLineAsync();
        Console.WriteLine("committing");
        Console.Out.Flush();
        var t1 = await c.CommitAsync(); // a failure leaves c unusable: the Database's disposal closes it
        Console.WriteLine($"committed {t1}");
        Console.WriteLine($"dirty1 {Text(v, 1)}");
        Console.WriteLine($"read5 {Text(v, 5)}");
        Encoding.UTF8.GetBytes("gap3").CopyTo(v.GetSpan(3 * Block, Block));
        var t2 = await c.CommitAsync();
        Console.WriteLine($"committed2 {t2}");
        Console.WriteLine($"after1 {Text(v, 1)}");
        Console.WriteLine($"after3 {Text(v, 3)}");
        Console.WriteLine($"after5 {Text(v, 5)}");
        await c.DisposeAsync();
        return 0;
    }
}
