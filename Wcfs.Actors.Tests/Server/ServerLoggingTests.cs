// `wcfs serve --log-format json --log-file FILE --log-file-size N`: compact JSON events with the
// templates' named properties, in a file rotated by size (real server child process).
using System.Text.Json;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Server;

public sealed class ServerLoggingTests
{
    [Fact]
    public async Task Serve_logs_compact_json_with_named_properties_to_a_file_rotated_by_size()
    {
        using var dir = new TempDirectory("wcfs-logtest");
        var log = Path.Combine(dir.Path, "server.log");
        await using var s = await ServerProcess.StartAsync(extraArgs: $"--log-format json --log-file {log} --log-file-size 4KiB", dir: dir.Path);
        var f = s.CreateFile();
        var at = s.Commit(f, (0, "0"));
        for (var i = 1; i < 40; i++)   // each commit logs "head/at → {Tid}" at debug level (--verbose)
            at = s.Commit(f, (0, i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await s.WaitHeadAtAsync(at);

        var deadline = DateTime.UtcNow + TestTimeouts.Default;
        string[] files;
        while ((files = Directory.GetFiles(dir.Path, "server*.log")).Length < 2 || !AllText(files).Contains(at.ToString(), StringComparison.Ordinal))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no rotated log with @{at} in {dir.Path}: {string.Join(", ", files)}");
            await Task.Delay(50); // why: the file sink flushes on its own schedule; polled with a bound
        }
        Assert.Contains(Path.Combine(dir.Path, "server_001.log"), files);
        Assert.All(files, p => Assert.True(new FileInfo(p).Length <= 4096 + 1024, $"{p} is {new FileInfo(p).Length} bytes"));

        var events = files.SelectMany(p => AllText([p]).Split('\n')).Where(l => l.Length > 0).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.All(events, e => Assert.True(e.TryGetProperty("@t", out _) && e.TryGetProperty("@mt", out _)));
        var headAt = events.Where(e => e.GetProperty("@mt").GetString()!.StartsWith("head/at", StringComparison.Ordinal)).ToList();
        Assert.Contains(headAt, e => e.GetProperty("Tid").GetString() == at.ToString());
        Assert.DoesNotContain("{\"@t\"", s.Log); // nothing went to stderr/stdout
    }

    private static string AllText(string[] files) => string.Concat(files.Select(p =>
    {
        using var fs = new FileStream(p, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var r = new StreamReader(fs);
        return r.ReadToEnd();
    }));
}
