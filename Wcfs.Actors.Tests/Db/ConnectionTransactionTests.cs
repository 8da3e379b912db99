// Transactions of a Connection through real SQLite: conflicts, isolation, reuse, one flow at a time.
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Wcfs.Actors.Virtmem;
using Xunit;

namespace Wcfs.Actors.Tests.Db;

public sealed class ConnectionTransactionTests : DbTestBase
{
    private readonly GatedSessions _sessions = new();

    private protected override IWcfsSessionFactory Sessions => _sessions;

    [Fact]
    public async Task The_second_writer_of_an_object_gets_a_conflict_and_is_then_aborted_at_the_winners_revision()
    {
        var db = await OpenDatabaseAsync();
        var setup = await db.OpenConnectionAsync();
        setup.Root["a"] = ZBigArray<long>.Create(setup, [10]);
        await setup.CommitAsync();

        var c1 = await db.OpenConnectionAsync();
        var c2 = await db.OpenConnectionAsync();
        c1.Root.Get<ZBigArray<long>>("a").Resize([20]);
        c2.Root.Get<ZBigArray<long>>("a").Resize([30]);
        var winner = await c1.CommitAsync();

        var e = await Assert.ThrowsAsync<ConflictException>(() => c2.CommitAsync());
        Assert.Equal(winner, e.NewerTid);
        Assert.Equal(winner, c2.At);
        Assert.False(c2.HasChanges);
        var a2 = c2.Root.Get<ZBigArray<long>>("a");
        Assert.Equal(new long[] { 20L }, a2.Shape.ToArray()); // the winner's data

        a2.Resize([40]); // usable: a new transaction on top of the winner commits fine
        await c2.CommitAsync();
        await c1.AbortAsync();
        Assert.Equal(new long[] { 40L }, c1.Root.Get<ZBigArray<long>>("a").Shape.ToArray());
    }

    [Fact]
    public async Task Writers_of_different_objects_both_commit()
    {
        var db = await OpenDatabaseAsync();
        var setup = await db.OpenConnectionAsync();
        setup.Root["a"] = ZBigArray<long>.Create(setup, [1]);
        setup.Root["b"] = ZBigArray<long>.Create(setup, [1]);
        await setup.CommitAsync();

        var c1 = await db.OpenConnectionAsync();
        var c2 = await db.OpenConnectionAsync();
        c1.Root.Get<ZBigArray<long>>("a").Resize([2]);
        c2.Root.Get<ZBigArray<long>>("b").Resize([3]);
        var t1 = await c1.CommitAsync();
        var t2 = await c2.CommitAsync();
        Assert.True(t2 > t1);
        Assert.Equal(new long[] { 2L }, c2.Root.Get<ZBigArray<long>>("a").Shape.ToArray()); // moved past t1 too
    }

    [Fact]
    public async Task A_reader_keeps_its_snapshot_until_its_own_commit_or_abort()
    {
        var db = await OpenDatabaseAsync();
        var w = await db.OpenConnectionAsync();
        var a = ZBigArray<int>.Create(w, [1]);
        w.Root["a"] = a;
        await w.CommitAsync();
        var r = await db.OpenConnectionAsync();
        var ra = r.Root.Get<ZBigArray<int>>("a");
        var rAt = r.At;

        for (var n = 2; n <= 4; n++)
        {
            a.Resize([n]);
            await w.CommitAsync();
            Assert.Equal(new long[] { 1L }, ra.Shape.ToArray());
            Assert.Equal(rAt, r.At);
        }
        await r.AbortAsync();
        Assert.Equal(w.At, r.At);
        Assert.Equal(new long[] { 4L }, ra.Shape.ToArray());
    }

    [Fact]
    public async Task Every_commit_and_abort_resyncs_the_wcfs_session_to_the_new_revision_before_returning()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var session = _sessions.Last!;
        Assert.Equal(c.At, session.At);
        c.Root["f"] = ZBigFile.Create(c);
        var t = await c.CommitAsync();
        Assert.Equal(t, session.At);

        var other = await db.OpenConnectionAsync();
        other.Root["g"] = ZBigFile.Create(other);
        var t2 = await other.CommitAsync();
        await c.AbortAsync();
        Assert.Equal(t2, session.At);
        Assert.Equal([t, t2], session.Resyncs);
    }

    [Fact]
    public async Task A_closed_connection_is_reused_and_resynced_to_the_latest_revision()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var f = ZBigFile.Create(c);
        c.Root["f"] = f;
        await c.CommitAsync();
        await c.DisposeAsync();
        Assert.True(_sessions.Last!.Disposed);

        var w = await db.OpenConnectionAsync(); // the pooled one
        Assert.Same(c, w);
        var w2 = await db.OpenConnectionAsync(); // a new one
        w2.Root["g"] = ZBigFile.Create(w2);
        var latest = await w2.CommitAsync();
        await w.DisposeAsync();

        var again = await db.OpenConnectionAsync();
        Assert.Same(c, again);
        Assert.Equal(latest, again.At);
        Assert.Equal(latest, _sessions.Last!.At);
        Assert.True(again.Root.ContainsKey("g"));
        Assert.Same(f, again.Root.Get<ZBigFile>("f"));
    }

    [Fact]
    public async Task Closing_a_connection_drops_its_pending_changes()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c);
        var before = db.Storage.LastTid;
        await c.DisposeAsync();
        Assert.Equal(before, db.Storage.LastTid);
        var again = await db.OpenConnectionAsync();
        Assert.False(again.Root.ContainsKey("f"));
    }

    [Fact]
    public async Task Using_a_closed_connection_says_it_is_closed()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        await c.DisposeAsync();
        Assert.Contains("closed", (await Assert.ThrowsAsync<InvalidOperationException>(() => c.CommitAsync())).Message);
        Assert.Contains("closed", Assert.Throws<InvalidOperationException>(() => c.Root.Keys).Message);
    }

    [Fact]
    public async Task Using_a_connection_from_a_second_flow_while_a_commit_runs_is_a_clear_error()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c);
        var session = _sessions.Last!;
        session.Gate = new TaskCompletionSource();
        var commit = c.CommitAsync(); // parks in the WCFS resync, holding the connection's flow

        await session.Entered.Task.WaitAsync(TestTimeouts.Default);
        var e = Assert.Throws<InvalidOperationException>(() => c.Root.ContainsKey("f"));
        Assert.Contains("used concurrently", e.Message);
        Assert.Contains("'commit'", e.Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => c.AbortAsync());

        session.Gate.SetResult();
        await commit.WaitAsync(TestTimeouts.Default);
        Assert.True(c.Root.ContainsKey("f")); // the flow ended: usable again
    }

    [Fact]
    public async Task Array_shape_changes_are_transactional()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var a = ZBigArray<double>.Create(c, [2, 3]);
        c.Root["a"] = a;
        await c.CommitAsync();

        a.Resize([4, 3]);
        Assert.Equal(12, a.Length);
        await c.AbortAsync();
        Assert.Equal(new long[] { 2L, 3 }, a.Shape.ToArray());

        a.Resize([5, 3]);
        await c.CommitAsync();
        db = await ReopenAsync(db);
        Assert.Equal(new long[] { 5L, 3 }, (await db.OpenConnectionAsync()).Root.Get<ZBigArray<double>>("a").Shape.ToArray());
    }

    [Fact]
    public async Task Invalid_array_shapes_are_refused_naming_the_dimension()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        Assert.Contains("shape[1]", Assert.Throws<ArgumentException>(() => ZBigArray<double>.Create(c, [2, -1])).Message);
        var a = ZBigArray<double>.Create(c, [2]);
        c.Root["a"] = a;
        await c.CommitAsync();
        Assert.Contains("shape[0]", Assert.Throws<ArgumentException>(() => a.Resize([-3])).Message);
        Assert.Equal(new long[] { 2L }, a.Shape.ToArray());
    }

    [Fact]
    public async Task Appending_to_an_array_created_in_this_transaction_says_to_commit_first()
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        var a = ZBigArray<double>.Create(c, [0]);
        Assert.Contains("commit first", Assert.Throws<InvalidOperationException>(() => a.Append([1.0, 2.0])).Message);
        using var empty = a.View(); // an empty view needs no mapping
        Assert.Equal(0, empty.Length);
    }

    /// <summary>WCFS sessions that record resyncs and can hold a resync until released (to park a flow).</summary>
    private sealed class GatedSessions : IWcfsSessionFactory
    {
        public Session? Last { get; private set; }

        public Task<IWcfsSession> ConnectAsync(Tid at) => Task.FromResult<IWcfsSession>(Last = new Session(at));

        public sealed class Session(Tid at) : IWcfsSession
        {
            public Tid At { get; private set; } = at;
            public List<Tid> Resyncs { get; } = [];
            public bool Disposed { get; private set; }
            public TaskCompletionSource? Gate { get; set; }
            public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public async Task ResyncAsync(Tid at)
            {
                Entered.TrySetResult();
                if (Gate is { } g)
                    await g.Task;
                Assert.True(at >= At);
                At = at;
                Resyncs.Add(at);
            }

            public Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store) =>
                throw new NotSupportedException("no base layer in these tests");

            public ValueTask DisposeAsync()
            {
                Disposed = true;
                return ValueTask.CompletedTask;
            }
        }
    }
}
