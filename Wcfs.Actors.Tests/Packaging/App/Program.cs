// The app of PackagedAppTests, built OUTSIDE the repository against the packed Wcfs.Actors package
// (as the README's "Use it in your app" says). Not compiled into the test project.
//   app write <dir>                 open a Database (autostarts `wcfs serve` from PATH), write 1024
//                                   doubles through a ZBigArray view, commit; prints "written <file oid> <tid>"
//   app read <dir> <oid> <tid>      join the running server, map the file through WCFS as of <tid>;
//                                   prints "sum <the sum of the 1024 doubles>"
// (other stdout lines are Akka's log)
using System.Globalization;
using System.Runtime.InteropServices;
using Akka.Configuration;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Client;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;

var dir = args[1];
var config = ConfigurationFactory.ParseString($"wcfs.mount-root = \"{Path.Combine(dir, "mnt")}\"");
var url = "sqlite://" + Path.Combine(dir, "app.db");
switch (args[0])
{
    case "write":
    {
        await using var db = await Database.OpenAsync(url, new DatabaseOptions { Config = config });
        var conn = await db.OpenConnectionAsync();
        var array = ZBigArray<double>.Create(conn, [1024]);
        conn.Root["a"] = array;
        await conn.CommitAsync();
        using (var view = array.View(new Slice(0, 1024)))
        {
            var span = view.AsSpan();
            for (var i = 0; i < span.Length; i++)
                span[i] = i * 1.5;
        }
        var tid = await conn.CommitAsync();
        Console.WriteLine($"written {array.File.Oid} {tid}");
        break;
    }
    case "read":
    {
        var oid = Oid.Parse(args[2]);
        var at = Tid.Parse(args[3]);
        await using var client = await WcfsClient.JoinAsync(url, new WcfsClientOptions { Config = config, Autostart = false });
        await using var conn = await client.ConnectAsync(at);
        await using var file = await conn.OpenAsync(oid);
        using var mapping = await file.MmapAsync(0, 1);
        var values = MemoryMarshal.Cast<byte, double>(mapping.Span)[..1024];
        var sum = 0.0;
        foreach (var v in values)
            sum += v;
        Console.WriteLine("sum " + sum.ToString(CultureInfo.InvariantCulture));
        break;
    }
    default:
        Console.Error.WriteLine("usage: app write DIR | app read DIR OID TID");
        return 2;
}
return 0;
