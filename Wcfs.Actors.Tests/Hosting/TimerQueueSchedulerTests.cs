// TimerQueueScheduler (Wcfs.Actors.Hosting): what Akka needs from a scheduler, on an ActorSystem
// configured with it - tells once and repeatedly, cancellation, actor timers (the server's pin
// timeout), an action that throws - and that TimerQueueScheduler.For, through which every ActorSystem
// wcfs creates gets its config, selects it unless the config names another. That
// it wakes nothing at rest is a figure: `wcfs bench idle` (a server after a pin, 4.5 % of a core with
// Akka's default scheduler, 0.3 % with this one).
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Hosting;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Hosting;

public sealed class TimerQueueSchedulerTests(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(ConfigurationFactory.ParseString(TimerQueueScheduler.Hocon), output: output)
{
    [Fact]
    public void The_system_runs_on_it()
    {
        Assert.IsType<TimerQueueScheduler>(Sys.Scheduler);
    }

    [Fact]
    public void A_tell_arrives_once_after_its_delay_and_a_cancelled_one_never()
    {
        var cancelled = new Cancelable(Sys.Scheduler);
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(50), TestActor, "cancelled", ActorRefs.NoSender, cancelled);
        cancelled.Cancel();
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        Sys.Scheduler.ScheduleTellOnce(TimeSpan.FromMilliseconds(100), TestActor, "once", ActorRefs.NoSender);
        ExpectMsg("once", TimeSpan.FromSeconds(10));
        var took = System.Diagnostics.Stopwatch.GetElapsedTime(start);
        // the timer queue counts in its own coarse milliseconds: allow it a few against the stopwatch
        Assert.True(took >= TimeSpan.FromMilliseconds(90), $"arrived after {took.TotalMilliseconds} ms, well before its 100 ms delay");
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // neither a second "once" nor the cancelled one
    }

    [Fact]
    public void A_repeated_tell_keeps_arriving_until_cancelled()
    {
        var c = new Cancelable(Sys.Scheduler);
        Sys.Scheduler.ScheduleTellRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), TestActor, "tick", ActorRefs.NoSender, c);
        for (var i = 0; i < 3; i++)
            ExpectMsg("tick", TimeSpan.FromSeconds(10));
        c.Cancel();
        ReceiveWhile(TimeSpan.FromMilliseconds(100), o => o); // at most the ones already on their way
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
    }

    [ThreadStatic]
    private static bool t_scheduling; // true on a thread while it is inside a Schedule* call

    [Fact]
    public async Task Items_due_at_once_run_off_the_scheduling_call_and_a_tiny_interval_returns_to_the_caller()
    {
        // why: zero and sub-millisecond delays (Task.Delay of < 1 ms is already complete, so without the
        // 1 ms floor the item ran inline, inside the Schedule* call, and a 1-tick interval looped there forever)
        var once = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        t_scheduling = true;
        try
        {
            Sys.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, () => once.TrySetResult(t_scheduling));
        }
        finally
        {
            t_scheduling = false;
        }
        Assert.False(await once.Task.WaitAsync(TimeSpan.FromSeconds(10)), "the item ran inside ScheduleOnce");

        var first = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var scheduling = Task.Run(() =>
        {
            t_scheduling = true;
            try
            {
                return Sys.Scheduler.Advanced.ScheduleRepeatedlyCancelable(TimeSpan.Zero, TimeSpan.FromTicks(1), () =>
                    first.TrySetResult(t_scheduling));
            }
            finally
            {
                t_scheduling = false;
            }
        });
        var cancelable = await scheduling.WaitAsync(TimeSpan.FromSeconds(10)); // TimeoutException: the call never returned
        try
        {
            Assert.False(await first.Task.WaitAsync(TimeSpan.FromSeconds(10)), "the first run happened inside ScheduleRepeatedly");
        }
        finally
        {
            cancelable.Cancel();
        }
    }

    [Fact]
    public void A_repeated_action_that_throws_keeps_running()
    {
        var c = new Cancelable(Sys.Scheduler);
        var runs = 0;
        var probe = TestActor;
        Sys.Scheduler.Advanced.ScheduleRepeatedly(TimeSpan.Zero, TimeSpan.FromMilliseconds(20), () =>
        {
            if (Interlocked.Increment(ref runs) == 1)
                throw new InvalidOperationException("the first run fails");
            probe.Tell("ran");
        }, c);
        ExpectMsg("ran", TimeSpan.FromSeconds(10)); // the second run came although the first threw
        c.Cancel();
    }

    [Fact]
    public void An_actor_timer_fires_and_a_cancelled_one_does_not()
    {
        var a = Sys.ActorOf(Props.Create(() => new TimerActor(TestActor)));
        a.Tell("start");
        ExpectMsg("fired:kept", TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // "cancelled" was cancelled before its 100 ms
    }

    [Fact]
    public async Task A_config_through_For_selects_it_unless_it_names_another_scheduler()
    {
        var ours = ActorSystem.Create("ours", TimerQueueScheduler.For(StderrLogger.For(Config.Empty))); // as Database and WcfsClient create theirs
        var theirs = ActorSystem.Create("theirs", TimerQueueScheduler.For(ConfigurationFactory.ParseString(
            "akka.scheduler.implementation = \"Akka.Actor.HashedWheelTimerScheduler, Akka\"")));
        try
        {
            Assert.IsType<TimerQueueScheduler>(ours.Scheduler);
            Assert.IsType<HashedWheelTimerScheduler>(theirs.Scheduler);
        }
        finally
        {
            await ours.Terminate();
            await theirs.Terminate();
        }
    }

    private sealed class TimerActor : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public TimerActor(IActorRef probe)
        {
            Receive<string>(s => s == "start", _ =>
            {
                Timers.StartSingleTimer("kept", "kept", TimeSpan.FromMilliseconds(50));
                Timers.StartSingleTimer("cancelled", "cancelled", TimeSpan.FromMilliseconds(100));
                Timers.Cancel("cancelled");
            });
            Receive<string>(s => probe.Tell("fired:" + s));
        }
    }
}
