// BenchPostgresCommandTests - the PostgreSQL cases of `wcfs bench` run against a real server (the
// storage tests' PostgreSQL) and report their figures as medians of 3 rounds with min–max, each
// next to its baseline: SQLite, and the plain one-row-per-block table on the same server.
using System.Text.Json;
using Wcfs.Actors.Tests.Storage;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Cli;

[Collection("postgres")]
public sealed class BenchPostgresCommandTests(PostgresFixture pg, ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new("wcfs-bench-pg");

    [Fact]
    public async Task Pg_commit_and_pg_loadblock_report_medians_of_three_rounds_against_sqlite_and_a_plain_table()
    {
        var json = _dir.File("bench.json");
        var r = await WcfsCli.RunLongWithAsync(new Dictionary<string, string> { ["WCFS_BENCH_POSTGRES_URL"] = pg.ServerUrl },
            TestTimeouts.Scale(TimeSpan.FromMinutes(4)), "bench", "--quick", "--json", json, "--dir", _dir.Path, "pg-commit", "pg-loadblock");
        output.WriteLine(r.Out);
        output.WriteLine(r.Stderr);
        Assert.True(r.ExitCode == 0, r.ToString());

        using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var entries = doc.RootElement.EnumerateArray().ToList();
        string[] expected =
        [
            "pg-commit|commit 16 MiB (vs sqlite)",
            "pg-commit|commit 16 MiB (vs raw COPY of the blocks into PostgreSQL)",
            "pg-commit|commits of one 4 KiB block (vs sqlite)",
            "pg-loadblock|p50 2 MiB read, 64 MiB db (vs sqlite)",
            "pg-loadblock|p50 2 MiB read, 64 MiB db (vs raw SELECT of one 2 MiB bytea)",
            "pg-loadblock|p99 2 MiB read, 64 MiB db (vs sqlite)",
        ];
        Assert.Equal(expected, entries.Select(e => e.GetProperty("case").GetString() + "|" + e.GetProperty("metric").GetString()));
        foreach (var e in entries)
        {
            Assert.Equal(3, e.GetProperty("reps").GetInt32());
            foreach (var side in new[] { "wcfs", "baseline" })
            {
                var v = e.GetProperty(side).GetDouble();
                var (min, max) = (e.GetProperty(side + "Min").GetDouble(), e.GetProperty(side + "Max").GetDouble());
                Assert.True(v > 0 && min <= v && v <= max, $"{e}: {side} {v} not a median within {min}–{max}");
            }
        }
        Assert.Empty(Directory.GetDirectories(_dir.Path, "wcfs-bench-*"));
        // Every database the cases made was dropped.
        Assert.Equal(0L, (long)PostgresFixture.Scalar(pg.ServerUrl, "SELECT count(*) FROM pg_database WHERE datname LIKE 'wcfs_bench_%'")!);
    }

    public void Dispose() => _dir.Dispose();
}
