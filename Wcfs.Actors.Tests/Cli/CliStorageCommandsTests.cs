// The storage commands of the real `wcfs` tool, run as child processes against real SQLite files
// (API.md §4): outputs, exit codes, one-line errors, and an unchanged database after bad input.
using System.Text;
using System.Text.Json;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;

namespace Wcfs.Actors.Tests.Cli;

public sealed class CliStorageCommandsTests : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-cli");

    private string DbPath => _dir.File("wcfs.db");
    private string Url => "sqlite://" + DbPath;

    public void Dispose() => _dir.Dispose();

    private static async Task<string> Ok(Task<CliResult> run)
    {
        var r = await run;
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("", r.Stderr);
        return r.Out.TrimEnd('\n');
    }

    private static async Task Fails(int exitCode, string expected, Task<CliResult> run)
    {
        var r = await run;
        Assert.True(r.ExitCode == exitCode, $"expected exit {exitCode}: {r}");
        Assert.Contains(expected, r.Stderr);
        Assert.DoesNotContain('\n', r.Stderr); // one line, no stack trace
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    private static string Commit(Oid f, params (long Blk, string? Text)[] blocks) =>
        JsonSerializer.Serialize(new Dictionary<string, Dictionary<string, string?>>
        {
            [f.ToString()] = blocks.ToDictionary(b => b.Blk.ToString(), b => b.Text is null ? null : Convert.ToBase64String(Encoding.ASCII.GetBytes(b.Text))),
        });

    private static byte[] Block(string text, int size = 4096)
    {
        var b = new byte[size];
        Encoding.ASCII.GetBytes(text).CopyTo(b, 0);
        return b;
    }

    private static byte[] Blocks(params string[] texts) => [.. texts.SelectMany(t => Block(t))];

    private async Task<(Oid File, Tid Created)> CreateFile(string name = "data")
    {
        var parts = (await Ok(WcfsCli.RunAsync("file", "create", Url, "--blksize", "4KiB", "--name", name))).Split(' ');
        Assert.Equal(2, parts.Length);
        return (Oid.Parse(parts[0]), Tid.Parse(parts[1]));
    }

    [Fact]
    public async Task Create_commit_and_cat_round_trip_at_every_tid()
    {
        var (f, t0) = await CreateFile();
        var t1 = Tid.Parse(await Ok(WcfsCli.RunWithInputAsync(Commit(f, (0, "a1"), (2, "c1")), "commit", Url)));
        var t2 = Tid.Parse(await Ok(WcfsCli.RunWithInputAsync(Commit(f, (0, "a2"), (2, null)), "commit", Url)));
        var t3 = Tid.Parse(await Ok(WcfsCli.RunWithInputAsync(Encoding.ASCII.GetBytes("b3"), "file", "write", Url, f.ToString(), "1", "-")));
        var path = _dir.File("blk.bin");
        await File.WriteAllBytesAsync(path, Encoding.ASCII.GetBytes("d4"));
        var t4 = Tid.Parse(await Ok(WcfsCli.RunAsync("file", "write", Url, f.ToString(), "3", path)));
        Assert.True(t0 < t1 && t1 < t2 && t2 < t3 && t3 < t4);

        async Task<byte[]> Cat(Tid at, params string[] extra) =>
            (await WcfsCli.RunAsync(["file", "cat", Url, f.ToString(), "--at", at.ToString(), .. extra])).Stdout;

        Assert.Empty(await Cat(t0));
        Assert.Equal(Blocks("a1", "", "c1"), await Cat(t1));
        Assert.Equal(Blocks("a2", "", ""), await Cat(t2));
        Assert.Equal(Blocks("a2", "b3", ""), await Cat(t3));
        Assert.Equal(Blocks("a2", "b3", "", "d4"), await Cat(t4));
        Assert.Equal(Block("c1"), await Cat(t1, "--blk", "2"));
        Assert.Equal(Block("d4"), (await WcfsCli.RunAsync("file", "cat", Url, f.ToString(), "--blk", "3")).Stdout);

        // The same data through the library, as another process would see it.
        using var s = StorageFactory.Open(Url);
        Assert.Equal(t4, s.LastTid);
    }

    [Fact]
    public async Task Ls_lists_files_with_block_size_size_and_name_as_of_a_tid()
    {
        var (a, ta) = await CreateFile("alpha");
        await Ok(WcfsCli.RunWithInputAsync(Commit(a, (2, "x")), "commit", Url));
        var (b, tb) = await CreateFile("beta");
        var bare = Oid.Parse((await Ok(WcfsCli.RunAsync("file", "create", Url, "--blksize", "64KiB"))).Split(' ')[0]);

        Assert.Equal($"{a} 4096 12288 alpha\n{b} 4096 0 beta\n{bare} 65536 0 -", await Ok(WcfsCli.RunAsync("file", "ls", Url)));
        Assert.Equal($"{a} 4096 0 alpha", await Ok(WcfsCli.RunAsync("file", "ls", Url, "--at", ta.ToString())));
        Assert.Equal($"{a} 4096 12288 alpha\n{b} 4096 0 beta", await Ok(WcfsCli.RunAsync("file", "ls", Url, "--at", tb.ToString())));
    }

    [Fact]
    public async Task The_storage_url_defaults_to_the_configured_one()
    {
        var conf = _dir.File("wcfs.conf");
        await File.WriteAllTextAsync(conf, $"wcfs.storage = \"{Url}\"\n");
        var (f, _) = await CreateFile();
        Assert.StartsWith($"{f} 4096 0 data", await Ok(WcfsCli.RunAsync("file", "ls", "--config", conf)));
        await Ok(WcfsCli.RunWithInputAsync(Encoding.ASCII.GetBytes("zz"), "file", "write", f.ToString(), "0", "-", "--config", conf));
        Assert.Equal(Block("zz"), (await WcfsCli.RunAsync("file", "cat", f.ToString(), "--config", conf)).Stdout);
    }

    [Theory]
    [InlineData(2, "status")]
    [InlineData(2, "serve")]
    [InlineData(1, "file", "ls")]
    [InlineData(1, "demo", "--size", "2MiB", "--workers", "1")]
    public async Task A_config_file_the_hocon_parser_rejects_fails_with_one_line_naming_the_file(int exitCode, params string[] command)
    {
        // Akka's parser throws FormatException (not ConfigurationException) for an unresolved substitution:
        // serve, status, stop, stats, mountpoint, pack and demo printed it with a stack trace.
        var conf = _dir.File("bad.conf");
        await File.WriteAllTextAsync(conf, $"wcfs.storage = \"{Url}\"\nwcfs.server.pin-timeout = ${{nope}}\n");
        await Fails(exitCode, $"wcfs: invalid config {conf}: Unresolved substitution: nope", WcfsCli.RunAsync([.. command, "--config", conf]));
        Assert.False(File.Exists(DbPath)); // nothing was opened
    }

    [Theory]
    [InlineData(2, "serve")]
    [InlineData(1, "file", "ls")]
    public async Task A_syntax_error_names_line_and_column_and_never_quotes_the_file(int exitCode, params string[] command)
    {
        // the parser's own message goes on with the offending line (here holding a password) and a caret
        var conf = _dir.File("secret.conf");
        await File.WriteAllTextAsync(conf, "# storage\nwcfs { storage = \"postgresql://u:SECRETPW@h/db\" , ,, }\n");
        var r = await WcfsCli.RunAsync([.. command, "--config", conf]);
        await Fails(exitCode, $"wcfs: invalid config {conf}: ", Task.FromResult(r));
        Assert.Contains("(line 2, column 51)", r.Stderr);
        Assert.DoesNotContain("SECRETPW", r.Stderr + r.Stdout);
        Assert.False(File.Exists(DbPath)); // nothing was opened
    }

    [Fact]
    public async Task Help_lists_every_command_and_hides_the_test_helpers()
    {
        var help = await Ok(WcfsCli.RunAsync("--help"));
        foreach (var c in new[] { "file", "commit", "bench" })
            Assert.Contains($"\n  {c}", help);
        Assert.DoesNotContain("debug", help);
        var file = await Ok(WcfsCli.RunAsync("file", "--help"));
        foreach (var c in new[] { "create", "write", "cat", "ls" })
            Assert.Contains($"\n  {c}", file);
    }

    [Fact]
    public async Task Bad_input_fails_with_one_line_and_leaves_the_database_unchanged()
    {
        var (f, _) = await CreateFile();
        var last = Tid.Parse(await Ok(WcfsCli.RunWithInputAsync(Commit(f, (0, "keep")), "commit", Url)));
        var before = await File.ReadAllBytesAsync(DbPath);

        await Fails(1, "unknown storage URL scheme \"ftp\"", WcfsCli.RunAsync("file", "ls", "ftp://host/x"));
        await Fails(1, "no database at /proc/self/no-such-dir/x.db", WcfsCli.RunAsync("file", "ls", "/proc/self/no-such-dir/x.db"));
        await Fails(2, "invalid oid \"xyz\"", WcfsCli.RunAsync("file", "cat", Url, "xyz"));
        await Fails(2, "invalid tid \"123\"", WcfsCli.RunAsync("file", "cat", Url, f.ToString(), "--at", "123"));
        await Fails(2, "invalid block number \"-1\"", WcfsCli.RunWithInputAsync(Encoding.ASCII.GetBytes("x"), "file", "write", Url, f.ToString(), "-1", "-"));
        await Fails(2, "invalid block number \"01\"", WcfsCli.RunAsync("file", "cat", Url, f.ToString(), "--blk", "01"));
        await Fails(1, "longer than the block size", WcfsCli.RunWithInputAsync(new byte[4097], "file", "write", Url, f.ToString(), "1", "-"));
        await Fails(1, "longer than the block size", WcfsCli.RunWithInputAsync(JsonSerializer.Serialize(new Dictionary<string, object> { [f.ToString()] = new Dictionary<string, string> { ["1"] = Convert.ToBase64String(new byte[5000]) } }), "commit", Url));
        await Fails(1, "malformed JSON", WcfsCli.RunWithInputAsync("{\"" + f + "\": {\"0\": ", "commit", Url));
        await Fails(1, "not valid base64", WcfsCli.RunWithInputAsync("{\"" + f + "\": {\"0\": \"!!!\"}}", "commit", Url));
        await Fails(1, "invalid block number \"x\"", WcfsCli.RunWithInputAsync("{\"" + f + "\": {\"x\": null}}", "commit", Url));
        await Fails(1, "no file 00000000000000ff", WcfsCli.RunWithInputAsync("{\"00000000000000ff\": {\"0\": null}}", "commit", Url));
        await Fails(1, "after the last commit", WcfsCli.RunAsync("file", "cat", Url, f.ToString(), "--at", "7fffffffffffffff"));
        await Fails(2, "invalid block size", WcfsCli.RunAsync("file", "create", Url, "--blksize", "3000"));
        // (blk+1)×blksize must stay ≤ 2^63−1: 2^63−1 itself wrapped the size to 0, 2^51−1 (4 KiB blocks) to a negative size
        await Fails(1, "block 9223372036854775807 is out of range", WcfsCli.RunWithInputAsync(Encoding.ASCII.GetBytes("x"), "file", "write", Url, f.ToString(), "9223372036854775807", "-"));
        await Fails(1, "block 2251799813685247 is out of range", WcfsCli.RunWithInputAsync(Encoding.ASCII.GetBytes("x"), "file", "write", Url, f.ToString(), "2251799813685247", "-"));
        await Fails(1, "block 2251799813685247 is out of range", WcfsCli.RunWithInputAsync(Commit(f, (2251799813685247, "x")), "commit", Url));
        await Fails(2, "Unrecognized command or argument 'frobnicate'", WcfsCli.RunAsync("file", "frobnicate"));
        Assert.Equal(before, await File.ReadAllBytesAsync(DbPath));

        // A taken name is refused after an oid was allocated (oids are never reused), so only the
        // commits are compared here.
        await Fails(1, "name \"data\" is already taken", WcfsCli.RunAsync("file", "create", Url, "--name", "data"));
        using (var s = StorageFactory.Open(Url))
            Assert.Equal(last, s.LastTid);
        Assert.Equal(Block("keep"), (await WcfsCli.RunAsync("file", "cat", Url, f.ToString())).Stdout);
    }

    [Fact]
    public async Task Read_only_commands_on_a_missing_database_fail_with_one_line_and_create_nothing()
    {
        var dir = _dir.File("nothing-here");
        var url = "sqlite://" + Path.Combine(dir, "wcfs.db");
        await Fails(1, $"no database at {dir}/wcfs.db", WcfsCli.RunAsync("file", "ls", url));
        await Fails(1, $"no database at {dir}/wcfs.db", WcfsCli.RunAsync("file", "cat", url, "0000000000000001"));
        Assert.False(Directory.Exists(dir), "a read-only command created the database's directory");
    }

    [Fact]
    public async Task A_corrupt_or_foreign_database_fails_cleanly_and_is_left_untouched()
    {
        var path = _dir.File("notes.db");
        await File.WriteAllTextAsync(path, "these are my notes, not a database\n");
        var before = await File.ReadAllBytesAsync(path);
        await Fails(1, "not a SQLite database", WcfsCli.RunAsync("file", "ls", path));
        await Fails(1, "not a SQLite database", WcfsCli.RunWithInputAsync("{}", "commit", "sqlite://" + path));
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }

    [Fact]
    public async Task Bench_quick_runs_the_storage_cases_and_writes_json()
    {
        var json = _dir.File("bench.json");
        var run = await WcfsCli.RunLongAsync(TestTimeouts.Scale(TimeSpan.FromMinutes(3)), "bench", "--quick", "--dir", _dir.Path, "--json", json, "commit", "loadblock");
        Assert.True(run.ExitCode == 0, run.ToString());
        var table = run.Out;
        Assert.Contains("commit", table);
        Assert.Contains("loadblock", table);
        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        Assert.Equal(4, doc.RootElement.GetArrayLength());
        foreach (var r in doc.RootElement.EnumerateArray())
        {
            Assert.True(r.GetProperty("wcfs").GetDouble() > 0);
            Assert.True(r.GetProperty("baseline").GetDouble() > 0);
        }
        Assert.Empty(Directory.GetDirectories(_dir.Path)); // the case's temp dir was removed
    }
}
