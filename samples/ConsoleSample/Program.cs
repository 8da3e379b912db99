// ConsoleSample - the smallest use of the runtime: a plain console app, no host, no actor system of
// its own. Database.OpenAsync(url) creates (and on dispose ends) the runtime's one actor system; the
// WCFS server is autostarted (wcfs.dll next to the app) and keeps running. The app grows the array
// named "sample" by 1024 elements, writes them through a view, commits and prints exactly one line:
//   sample: <n> elements @<tid>
// Nothing else reaches stdout: the runtime logs warnings and up to stderr (Configuration/StderrLogger.cs).
//   dotnet run --project samples/ConsoleSample -- sqlite:///tmp/wcfs-console/wcfs.db [mount root]
using Akka.Configuration;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Db;

if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: wcfs-console-sample <storage url> [mount root]");
    return 2;
}
var config = args.Length > 1 ? ConfigurationFactory.ParseString($"wcfs.mount-root = \"{Path.GetFullPath(args[1])}\"") : null;
await using (var db = await Database.OpenAsync(args[0], new DatabaseOptions { Config = config }))
await using (var conn = await db.OpenConnectionAsync())
{
    if (!conn.Root.TryGet<ZBigArray<double>>("sample", out var array))
    {
        array = ZBigArray<double>.Create(conn, [0]);
        conn.Root["sample"] = array;
        await conn.CommitAsync(); // WCFS serves committed files only: views of a new array come after its first commit
    }
    var start = array.Shape[0];
    array.Resize([start + 1024]);
    using (var view = array.View(new Slice(start, start + 1024)))
    {
        var span = view.AsSpan();
        for (var i = 0; i < span.Length; i++)
            span[i] = start + i;
    }
    var at = await conn.CommitAsync();
    Console.WriteLine($"sample: {array.Shape[0]} elements @{at}");
}
return 0;
