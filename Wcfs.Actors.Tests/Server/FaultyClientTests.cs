// The faulty-client matrix (PROTOCOL.md §4.2, ARCHITECTURE.md §6): each misbehavior × (during watch
// setup, during another process's access), pin timeout 10 s. The faulty client is a child process
// (`wcfs test-client link`); the server must kill it (or not) as specified, count only real kills,
// and let everybody else proceed within 2 × the timeout.
using System.Diagnostics;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

public class FaultyClientTests(SharedServerShortPinTimeout shared) : IClassFixture<SharedServerShortPinTimeout>
{
    public enum Fault { NoRead, NoReply, Nak, CloseWithoutBye, ExitOnPin }

    private const double PinTimeout = 10; // SharedServerShortPinTimeout

    public static TheoryData<Fault, bool> Matrix()
    {
        var d = new TheoryData<Fault, bool>();
        foreach (var f in Enum.GetValues<Fault>())
        {
            d.Add(f, true);
            d.Add(f, false);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(Matrix))]
    public async Task A_faulty_client_is_dealt_with_and_the_others_proceed_within_twice_the_pin_timeout(Fault fault, bool duringSetup)
    {
        var s = shared.StartTest();
        var killsBefore = s.Stat("pinkill");
        var f = s.CreateFile();
        var at1 = s.Commit(f, (0, "a1"));
        var at2 = s.Commit(f, (0, "a2"));
        await s.WaitHeadAtAsync(at2);
        if (duringSetup)
            Assert.Equal("a2", ReadBlock(s.HeadPath(f), 0)); // block 0 sits in the cache: setup @at1 must pin it
        else
            _ = File.Exists(s.HeadPath(f));

        await using var bad = await ChildLink.StartAsync(s.Mountpoint, noRead: fault == Fault.NoRead);
        await using var good = await ChildLink.StartAsync(s.Mountpoint);
        bad.Send($"1 watch {f} @{at1}");
        if (!duringSetup)
        {
            if (fault != Fault.NoRead)
                await bad.ExpectAsync("1 ok");
            else
                await WaitForStatAsync(s, "Watch", 1);
        }

        var clock = Stopwatch.StartNew();
        // The other party: during setup, a good client setting up the same watch; during access, a
        // read through head by the test process (read(), never a fault here).
        Task<string>? read = duringSetup ? null : ReadBlockAsync(s.HeadPath(f), 0);
        if (fault != Fault.NoRead)
        {
            var pin = LinkClient.ParsePin(await bad.NextAsync());
            Assert.Equal((0L, $"@{at1}"), (pin.Blk, pin.Rev));
            switch (fault)
            {
                case Fault.Nak: bad.Send($"{pin.Stream} nak"); break;
                case Fault.CloseWithoutBye: bad.Send("!close"); break;
                case Fault.ExitOnPin: bad.Send("!exit"); break;
            }
        }
        if (duringSetup)
        {
            var pins = await good.WatchAsync(1, f, at1);
            Assert.Equal($"@{at1}", pins[0]);
        }
        else
        {
            Assert.Equal("a2", await read!.WaitAsync(Scaled(2 * PinTimeout)));
        }
        Assert.True(clock.Elapsed < Scaled(2 * PinTimeout), $"the others waited {clock.Elapsed}");

        var killed = fault != Fault.ExitOnPin;
        var code = await bad.ExitCodeAsync();
        if (killed)
            Assert.NotEqual(0, code);
        else
            Assert.Equal(0, code);
        Assert.Equal(killed ? 1 : 0, s.Stat("pinkill") - killsBefore);
        if (killed)
            await s.AssertLogContainsAsync($"(pid {bad.Pid})"); // the server logs why ("0 fatal: ..." to the client is best effort)

        // the good client was not touched and still works
        Assert.False(good.Process.HasExited);
        good.Send("3 bye");
        await good.ExpectAsync("EOF");
    }

    private static async Task WaitForStatAsync(ServerProcess s, string name, long value)
    {
        var deadline = DateTime.UtcNow + Scaled(10);
        while (s.Stat(name) != value)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{name} did not become {value}:\n{s.Stats()}");
            await Task.Delay(10); // why: .wcfs/stats has no change notification; poll it
        }
    }
}
