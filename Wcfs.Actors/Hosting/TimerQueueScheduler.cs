// TimerQueueScheduler - an Akka scheduler that costs nothing while nothing is scheduled.
//
// Akka's default scheduler (HashedWheelTimerScheduler) starts a worker on the first scheduled item
// and from then on wakes every akka.scheduler.tick-duration (10 ms) for the life of the system, work
// or not: measured, one ScheduleTellOnce that fired long ago leaves a process at ~340 wakeups a second,
// and a WCFS server that ever timed a pin (WatchLinkActor's pin timeout) used 2.6 % of a core at rest
// with one idle client. This scheduler puts every item on .NET's timer queue instead (Task.Delay), which
// sleeps until the next due item and not at all when there is none ("at rest, free").
//
// Semantics kept: an item runs once after its delay (repeated ones every interval after the first run)
// unless its ICancelable was cancelled or the system terminated (Dispose); an action that throws is
// logged and a repeated one keeps running, as with the default scheduler; an item never runs on the
// thread that schedules it (the default runs it on its worker at the next tick). Not kept: the default
// runs all items on its one worker thread in order; here each runs on a thread-pool thread (items are
// Tells and short actions, which Akka requires to be thread-safe anyway). Resolution is the timer
// queue's (~1 ms) instead of the wheel's 10 ms tick: delays and intervals are clamped to [1 ms, ~24.8
// days]. Why the 1 ms floor: Task.Delay of less than 1 ms is an already completed task, so a zero delay
// ran the item inline on the caller's thread, and a repeated item with a sub-millisecond interval
// (Akka refuses only intervals <= 0) looped on that thread forever, never returning to the caller.
//
// Used by every ActorSystem wcfs creates (For: the server's, the library's own client systems, the
// demo's); a host application opts in for its own system with
//   akka.scheduler.implementation = "Wcfs.Actors.Hosting.TimerQueueScheduler, Wcfs.Actors"
using Akka.Actor;
using Akka.Configuration;
using Akka.Dispatch;
using Akka.Event;

namespace Wcfs.Actors.Hosting;

/// <summary>
/// An Akka scheduler on .NET's timer queue: no thread wakes while nothing is due (Akka's default wakes
/// every 10 ms forever once it was used). Select it with
/// <c>akka.scheduler.implementation = "Wcfs.Actors.Hosting.TimerQueueScheduler, Wcfs.Actors"</c>.
/// </summary>
public sealed class TimerQueueScheduler : SchedulerBase, IDateTimeOffsetNowTimeProvider, IDisposable
{
    /// <summary>The HOCON line that selects this scheduler.</summary>
    public const string Hocon = "akka.scheduler.implementation = \"Wcfs.Actors.Hosting.TimerQueueScheduler, Wcfs.Actors\"";

    private static readonly long Started = System.Diagnostics.Stopwatch.GetTimestamp();
    private static readonly TimeSpan MinDelay = TimeSpan.FromMilliseconds(1); // why: a floor, not a timer (file comment)
    private static readonly TimeSpan MaxDelay = TimeSpan.FromMilliseconds(int.MaxValue - 1);
    private readonly ILoggingAdapter _log;
    private volatile bool _disposed; // the system terminated: nothing runs any more, repeated items end

    /// <summary><paramref name="config"/> selecting this scheduler, unless it names a scheduler itself: the
    /// config of every ActorSystem wcfs creates goes through here.</summary>
    public static Config For(Config config) =>
        config.HasPath("akka.scheduler.implementation") ? config : ConfigurationFactory.ParseString(Hocon).WithFallback(config);

    /// <summary>Called by Akka with the <c>akka.scheduler</c> config and the system's log.</summary>
    public TimerQueueScheduler(Config scheduler, ILoggingAdapter log) : base(scheduler, log) => _log = log;

    /// <inheritdoc />
    protected override DateTimeOffset TimeNow => DateTimeOffset.Now;

    /// <inheritdoc />
    public override TimeSpan MonotonicClock => System.Diagnostics.Stopwatch.GetElapsedTime(Started);

    /// <inheritdoc />
    public override TimeSpan HighResMonotonicClock => System.Diagnostics.Stopwatch.GetElapsedTime(Started);

    /// <inheritdoc />
    protected override void InternalScheduleTellOnce(TimeSpan delay, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        Once(delay, () => receiver.Tell(message, sender), cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleTellRepeatedly(TimeSpan initialDelay, TimeSpan interval, ICanTell receiver, object message, IActorRef sender, ICancelable cancelable) =>
        _ = RepeatAsync(initialDelay, interval, () => receiver.Tell(message, sender), cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleOnce(TimeSpan delay, Action action, ICancelable cancelable) => Once(delay, action, cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleOnce(TimeSpan delay, IRunnable action, ICancelable cancelable) => Once(delay, action.Run, cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable cancelable) =>
        _ = RepeatAsync(initialDelay, interval, action, cancelable);

    /// <inheritdoc />
    protected override void InternalScheduleRepeatedly(TimeSpan initialDelay, TimeSpan interval, IRunnable action, ICancelable cancelable) =>
        _ = RepeatAsync(initialDelay, interval, action.Run, cancelable);

    private void Once(TimeSpan delay, Action action, ICancelable? cancelable)
    {
        var token = cancelable?.Token ?? CancellationToken.None;
        // Task.Delay's timer is rooted by the timer queue while pending: nothing here needs a reference
        Task.Delay(Clamp(delay), token).ContinueWith(
            t => { if (!t.IsCanceled && cancelable?.IsCancellationRequested != true) Run(action); },
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private async Task RepeatAsync(TimeSpan initialDelay, TimeSpan interval, Action action, ICancelable? cancelable)
    {
        var token = cancelable?.Token ?? CancellationToken.None;
        try
        {
            await Task.Delay(Clamp(initialDelay), token).ConfigureAwait(false);
            while (cancelable?.IsCancellationRequested != true && !_disposed)
            {
                Run(action);
                await Task.Delay(Clamp(interval), token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // cancelled: the item ends
        }
    }

    /// <summary>Called by Akka when the system terminates: no item runs after it.</summary>
    public void Dispose() => _disposed = true;

    private void Run(Action action)
    {
        if (_disposed)
            return;
        try
        {
            action();
        }
        catch (Exception e)
        {
            _log.Error(e, "a scheduled action failed");
        }
    }

    private static TimeSpan Clamp(TimeSpan d) => d < MinDelay ? MinDelay : d > MaxDelay ? MaxDelay : d;
}
