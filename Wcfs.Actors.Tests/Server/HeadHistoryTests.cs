// In-process tests of the server's pure head logic (Wcfs.Actors.Server.Head): block history, the
// revision a watcher must be pinned to, head/at waiters. No mount, no storage: these run in
// microseconds and pin down the rules the FUSE-level tests exercise end to end.
using Wcfs.Actors.Server;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Server;

public sealed class HeadHistoryTests
{
    private static readonly Oid File = new(7);
    private static Tid T(ulong v) => new(v);

    private static ChangeRecord Commit(ulong tid, params long[] blocks) =>
        new(T(tid), [File], new Dictionary<Oid, long[]> { [File] = blocks });

    private static (Head Head, HeadFile File) HeadAt10WithFile()
    {
        var head = new Head(T(10), TimeSpan.Zero);
        lock (head.Lock)
            return (head, head.Register(File, 4096, 100, lastBlock: 1));
    }

    private static void Apply(Head head, ChangeRecord rec)
    {
        lock (head.Lock)
        {
            head.BeginCommit(rec);
            head.FinishCommit(rec.Tid);
        }
    }

    [Fact]
    public void A_block_unchanged_since_the_start_of_history_is_pinned_to_the_tail()
    {
        var (head, f) = HeadAt10WithFile();
        Apply(head, Commit(20, 0));
        Assert.Equal(T(10), head.RevFor(f, 1, T(15)));
    }

    [Fact]
    public void A_loaded_past_is_the_history_of_files_registered_after_it_and_is_trimmed_by_its_commit_times()
    {
        var now = DateTime.UtcNow;
        ulong Ago(int minutes) => Head.TidOf(now.AddMinutes(-minutes)).Value;
        var head = new Head(T(Ago(1)), TimeSpan.FromMinutes(5));
        HeadFile f;
        lock (head.Lock)
        {
            // block changes only: the file object itself existed before the window
            ChangeRecord Blocks(ulong tid, long blk) => new(T(tid), [], new Dictionary<Oid, long[]> { [File] = [blk] });
            head.LoadPast(T(Ago(20)), [Blocks(Ago(10), 0), Blocks(Ago(3), 1), Blocks(Ago(1), 0)]);
            Assert.Equal(T(Ago(20)), head.Tail);
            f = head.Register(File, 4096, 100, lastBlock: 1);
        }
        Assert.Equal(T(Ago(10)), head.RevFor(f, 0, T(Ago(4))));
        Assert.Equal(T(Ago(20)), head.RevFor(f, 1, T(Ago(4))));
        Assert.True(Head.ChangedAfter(f, 1, T(Ago(4))));
        lock (head.Lock)
        {
            head.Trim(now); // the record of 10 minutes ago is older than the 5 minute window; the others are not
            Assert.Equal(T(Ago(10)), head.Tail);
            Assert.Throws<InvalidOperationException>(() => head.LoadPast(T(Ago(30)), []));
        }
    }

    [Fact]
    public void A_past_out_of_order_or_beyond_head_is_refused()
    {
        var head = new Head(T(50), TimeSpan.Zero);
        lock (head.Lock)
        {
            Assert.Throws<InvalidOperationException>(() => head.LoadPast(T(10), [Commit(30), Commit(20)]));
            Assert.Throws<InvalidOperationException>(() => head.LoadPast(T(10), [Commit(60)]));
            Assert.Throws<InvalidOperationException>(() => head.LoadPast(T(10), [Commit(10)]));
            head.LoadPast(T(10), [Commit(20), Commit(50)]);
            Assert.Equal(T(10), head.Tail);
        }
    }

    [Fact]
    public void A_watcher_is_pinned_to_the_last_change_at_or_before_its_at()
    {
        var (head, f) = HeadAt10WithFile();
        Apply(head, Commit(20, 0));
        Apply(head, Commit(30, 0, 1));
        Apply(head, Commit(40, 0));
        Assert.Equal(T(20), head.RevFor(f, 0, T(25)));
        Assert.Equal(T(30), head.RevFor(f, 0, T(30)));
        Assert.Equal(T(30), head.RevFor(f, 1, T(39)));
        Assert.True(Head.ChangedAfter(f, 0, T(30)));
        Assert.False(Head.ChangedAfter(f, 1, T(30)));
    }

    [Fact]
    public void Commits_raise_the_size_high_water_mark_and_move_data_before_head_at()
    {
        var (head, f) = HeadAt10WithFile();
        lock (head.Lock)
        {
            var changed = head.BeginCommit(Commit(20, 5));
            Assert.Single(changed);
            Assert.Equal(T(20), head.DataAt);
            Assert.Equal(T(10), head.HeadAt);
            head.FinishCommit(T(20));
            Assert.Equal(T(20), head.HeadAt);
        }
        Assert.Equal(6L * 4096, f.Size);
    }

    [Fact]
    public void A_head_at_waiter_wakes_exactly_when_head_reaches_its_at()
    {
        var (head, _) = HeadAt10WithFile();
        Task wait;
        lock (head.Lock)
            wait = head.WaitHeadAt(T(30));
        Apply(head, Commit(20, 0));
        Assert.False(wait.IsCompleted);
        List<TaskCompletionSource> wake;
        lock (head.Lock)
        {
            head.BeginCommit(Commit(30, 0));
            wake = head.FinishCommit(T(30));
        }
        Assert.Single(wake);
    }

    [Fact]
    public void Trimming_keeps_the_newest_commit_and_moves_the_tail()
    {
        var (head, f) = HeadAt10WithFile();
        Apply(head, Commit(20, 0));
        Apply(head, Commit(30, 1));
        lock (head.Lock)
            head.Trim(DateTime.UtcNow.AddHours(1));
        Assert.Equal(T(20), head.Tail);
        Assert.Null(f.LastChange(0));
        Assert.Equal(T(30), f.LastChange(1));
        Assert.Equal(T(20), head.RevFor(f, 0, T(25)));
    }
}
