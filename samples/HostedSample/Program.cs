// HostedSample - the wcfs-actors runtime inside a Microsoft.Extensions.Hosting app: Akka.Hosting
// builds the ActorSystem, WithWcfs adds the runtime (reference.conf as fallback, options over the
// app's HOCON), Akka logs through Serilog. The app opens the embedded default database in the
// data dir given as its first argument (default: wcfs.data-dir; WCFS mounts under the second
// argument, default wcfs.mount-root; the server is autostarted and keeps running), grows an array
// named "sample" by 1024 elements, commits, logs the runtime's health check ("wcfs", registered by
// WithWcfs: server reachable, watch links up, pinners alive) and stops. The runtime's metrics (meter
// "Wcfs": commits, pins, faults, dirty pages) go to OpenTelemetry's console exporter, printed at stop.
//   dotnet run --project samples/HostedSample -- /tmp/wcfs-sample
using Akka.Actor;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;
using Serilog;
using Wcfs.Actors.Db;
using Wcfs.Actors.Hosting;

Log.Logger = new LoggerConfiguration().WriteTo.Console().CreateLogger();
var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddSerilog();
builder.Services.AddHealthChecks();
builder.Services.AddOpenTelemetry().WithMetrics(m => m.AddMeter("Wcfs").AddConsoleExporter());
builder.Services.AddAkka("wcfs-sample", akka => akka
    .ConfigureLoggers(l => { l.ClearLoggers(); l.AddLogger<SerilogLogger>(); })
    .WithWcfs(o =>
    {
        o.DataDir = args.Length > 0 ? Path.GetFullPath(args[0]) : null;
        o.MountRoot = args.Length > 1 ? Path.GetFullPath(args[1]) : null;
    }));
using var host = builder.Build();
await host.StartAsync();
var system = host.Services.GetRequiredService<ActorSystem>();

await using (var db = await Database.OpenAsync("", new DatabaseOptions { System = system }))
await using (var conn = await db.OpenConnectionAsync())
{
    var array = conn.Root.TryGet<ZBigArray<double>>("sample", out var a) ? a : ZBigArray<double>.Create(conn, [0]);
    array.Resize([array.Shape[0] + 1024]);
    conn.Root["sample"] = array;
    var at = await conn.CommitAsync();
    Log.Information("array {Oid} in {Url} has {Length} elements @{At} (data dir {DataDir})",
        array.Oid, db.Url, array.Length, at, WcfsRuntime.Get(system).Settings.DataDir);
    var health = (await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync()).Entries["wcfs"];
    Log.Information("health {Status}: {Description}", health.Status, health.Description);
}
await host.StopAsync();
await Log.CloseAndFlushAsync();
