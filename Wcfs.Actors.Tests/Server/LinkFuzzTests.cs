// A frame fuzzer against a live server (issue 12): random bytes and near-valid
// frames on several links while a healthy client (a child process, pin timeout 3 s) keeps working
// with pins. The server, head/at and the healthy client must be unaffected. The seed is printed
// (WCFS_FUZZ_SEED replays one).
using System.Globalization;
using System.Text;
using Wcfs.Actors.Storage;
using Xunit;
using Xunit.Abstractions;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class LinkFuzzTests(ITestOutputHelper output)
{
    /// <summary>A client in a child process that moves its watch forward and gets one lazy pin per round.</summary>
    internal sealed class HealthyClient(ServerProcess s, ChildLink link, Oid f, Tid last)
    {
        private ulong _stream = 1;
        private Tid _lastChange = last; // of block 0
        public int Rounds { get; private set; }

        public static async Task<HealthyClient> StartAsync(ServerProcess s)
        {
            var f = s.CreateFile();
            var v0 = s.Commit(f, (0, "v0"));
            await s.WaitHeadAtAsync(v0);
            Assert.Equal("v0", ReadBlock(s.HeadPath(f), 0));
            return new HealthyClient(s, await ChildLink.StartAsync(s.Mountpoint), f, v0);
        }

        public ChildLink Link => link;

        /// <summary>watch @head, commit block 0, read it through head: one pin, acked, data right.</summary>
        public async Task RoundAsync()
        {
            var at = s.Storage.LastTid;
            await s.WaitHeadAtAsync(at);
            await link.WatchAsync(_stream, f, at);
            _stream += 2;
            var next = s.Commit(f, (0, "v" + (Rounds + 1)));
            await s.WaitHeadAtAsync(next);
            var read = ReadBlockAsync(s.HeadPath(f), 0);
            var pin = LinkClient.ParsePin(await link.NextAsync(20));
            Assert.Equal((0L, "@" + _lastChange), (pin.Blk, pin.Rev)); // block 0 as of the watch's at
            _lastChange = next;
            link.Send($"{pin.Stream} ack");
            Assert.Equal("v" + (Rounds + 1), await read.WaitAsync(Scaled(20)));
            Rounds++;
        }

        public async Task RunRoundsAsync(int n)
        {
            for (var i = 0; i < n; i++)
                await RoundAsync();
        }

        public async Task RunUntilAsync(Task end)
        {
            while (!end.IsCompleted)
                await RoundAsync();
            await RoundAsync();
        }
    }

    internal static int Seed(ITestOutputHelper log)
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("WCFS_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var s)
            ? s : Random.Shared.Next();
        log.WriteLine($"seed {seed} (WCFS_FUZZ_SEED={seed} replays it)");
        return seed;
    }

    [Fact]
    public async Task Random_bytes_and_near_valid_frames_on_several_links_leave_the_server_head_at_and_a_healthy_client_unaffected()
    {
        var rnd = new Random(Seed(output));
        await using var s = await StartAsync(pinTimeout: "3s");
        var healthy = await HealthyClient.StartAsync(s);
        await using var healthyLink = healthy.Link;
        var g = s.CreateFile();
        var gAt = s.Commit(g, (0, "g1"));
        await s.WaitHeadAtAsync(s.Commit(g, (0, "g2")));
        Assert.Equal("g2", ReadBlock(s.HeadPath(g), 0)); // fuzz watches of g at gAt get a pin in setup
        var killsBefore = s.Stat("pinkill");

        var fuzzers = new List<ChildLink>();
        try
        {
            for (var i = 0; i < 4; i++)
                fuzzers.Add(await ChildLink.StartAsync(s.Mountpoint));
            var fuzz = Task.Run(async () =>
            {
                for (var n = 0; n < 400; n++)
                {
                    var link = fuzzers[rnd.Next(fuzzers.Count)];
                    if (!link.Process.HasExited)
                    {
                        try { link.Send(FuzzLine(rnd, g, gAt)); }
                        catch (IOException) { } // the fuzzer was killed meanwhile (broken pipe)
                    }
                    if (n % 20 == 0)
                        await Task.Yield();
                }
            });
            var probe = BadClientTests.ControlFilesAnswerWhileAsync(s, fuzz, Scaled(120));
            await healthy.RunUntilAsync(fuzz);
            await fuzz;
            var slowest = await probe;
            output.WriteLine($"healthy rounds {healthy.Rounds}, slowest head/at+stats {slowest.TotalMilliseconds:0} ms, fuzz kills {s.Stat("pinkill") - killsBefore}");

            Assert.False(s.Process.HasExited, "the server died:\n" + s.Log);
            Assert.False(healthy.Link.Process.HasExited, "the healthy client was killed:\n" + s.Log);
            Assert.True(slowest < Scaled(1), $"head/at took {slowest.TotalMilliseconds:0} ms");
            await healthy.RoundAsync();
            await s.WaitHeadAtAsync(s.Storage.LastTid);
        }
        finally
        {
            foreach (var l in fuzzers)
                await l.DisposeAsync();
        }
    }

    /// <summary>Random bytes (no newline), or a valid frame with one mutation.</summary>
    private static string FuzzLine(Random rnd, Oid g, Tid gAt)
    {
        var stream = rnd.Next(4) switch { 0 => "1", 1 => "2", 2 => rnd.Next(1000).ToString(CultureInfo.InvariantCulture), _ => ulong.MaxValue.ToString(CultureInfo.InvariantCulture) };
        string[] valid =
        [
            $"{stream} watch {g} @{gAt}", $"{stream} watch {g} -", $"{stream} ack", $"{stream} nak", $"{stream} bye",
            $"{stream} watch {g} @{new Tid(gAt.Value + (ulong)rnd.Next(3))}", $"{stream} watch {new Oid((ulong)rnd.Next(1, 100))} @{gAt}",
        ];
        var line = valid[rnd.Next(valid.Length)];
        switch (rnd.Next(8))
        {
            case 0: // random bytes
                var b = new StringBuilder();
                for (var i = rnd.Next(1, 600); i > 0; i--)
                {
                    var c = (char)rnd.Next(1, 256);
                    b.Append(c is '\n' or '\r' ? 'x' : c);
                }
                line = b.ToString();
                break;
            case 1: line = line.Replace(' ', rnd.Next(2) == 0 ? '\t' : ' '); break;
            case 2: line = line[..rnd.Next(line.Length)]; break;
            case 3: line = line.ToUpperInvariant(); break;
            case 4: line += new string('z', rnd.Next(300)); break;
            case 5: line = line.Insert(rnd.Next(line.Length), " "); break;
            default: break;
        }
        return line.StartsWith('!') ? " " + line : line;
    }

}
