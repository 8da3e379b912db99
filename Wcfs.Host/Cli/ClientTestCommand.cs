// ClientTestCommand - hidden `wcfs test-wcfs-client ...`: a client process for the WCFS client's
// tests, for behaviors that end the process (an access to a closed mapping).
//
//   test-wcfs-client close-and-read <mnt> <url> <at> <oidA> <oidB> file|conn
//       joins the server, connects at <at>, opens A and B, maps block 0 of each and prints
//       "A <text>" and "B <text>"; then closes A's FileH (file) or the whole Conn (conn) and prints
//       "closed"; with file, reads B again and prints "B <text>"; then reads A, which must end the
//       process with wcfs's one-line message; if it does not, prints "A survived" and exits 3.
using System.CommandLine;
using System.Text;
using Wcfs.Actors.Client;
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
}
