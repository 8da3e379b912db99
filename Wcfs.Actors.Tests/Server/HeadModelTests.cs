// HeadModelTests - a randomized model test of the head's block history (Wcfs.Actors.Server.Head:
// the pure functions behind pins, trimming and watch setup) against a plain reference model that
// keeps every commit forever and answers by brute force. 10^4 random steps per run; the seed is
// printed and named in every failure (WCFS_TEST_SEED=<n> replays one run).
//
// What is checked after every step, for every known file:
//   - LastChange / ChangedAfter / LastChangeAtOrBefore equal the brute-force answers over the
//     commits in (Tail, DataAt];
//   - RevFor(blk, at) for any at in [Tail, DataAt] (and not before the file's creation) is a revision in [Tail, DataAt] that shows the
//     same data of blk as at (the same last change over all history): a pin never shows other data;
//   - the pins of a fresh watch setup at at (accessed blocks changed after at, at RevFor) equal the
//     model's;
//   - size high-water mark, Tail ≤ HeadAt ≤ DataAt, Tail ≤ the at of every live watch, Trim moves
//     Tail exactly as far as the live watches allow, head/at waiters complete exactly when HeadAt
//     reaches their at.
using Wcfs.Actors.Server;
using Wcfs.Actors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Server;

public sealed class HeadModelTests(ITestOutputHelper output)
{
    private const int Steps = 10_000, Blocks = 12;
    private static readonly Oid[] Files = [new(7), new(8)];

    /// <summary>The reference: every change ever, never trimmed, indexed per (file, block).</summary>
    private sealed class Model
    {
        private readonly Dictionary<(Oid, long), List<ulong>> _changes = [];
        private readonly Dictionary<Oid, long> _lastBlock = [];
        public readonly List<ulong> Commits = [];
        /// <summary>File → the commit that created it (0: it existed before the server started).</summary>
        public readonly Dictionary<Oid, ulong> Created = new() { [Files[0]] = 0 };
        public ulong Tail, HeadAt, DataAt;

        public void Commit(ulong tid, Dictionary<Oid, long[]> blocks)
        {
            Commits.Add(tid);
            foreach (var (f, bs) in blocks)
                foreach (var b in bs)
                {
                    if (!_changes.TryGetValue((f, b), out var l))
                        _changes[(f, b)] = l = [];
                    l.Add(tid);
                    _lastBlock[f] = Math.Max(_lastBlock.GetValueOrDefault(f, -1), b);
                }
        }

        /// <summary>The last commit ≤ at that changed blk of f over all history (0: never).</summary>
        public ulong Version(Oid f, long blk, ulong at)
        {
            if (!_changes.TryGetValue((f, blk), out var l))
                return 0;
            var i = UpperBound(l, at);
            return i == 0 ? 0 : l[i - 1];
        }

        /// <summary>Commits in (from, to] that changed blk of f, ascending.</summary>
        public List<ulong> Changes(Oid f, long blk, ulong from, ulong to)
        {
            if (!_changes.TryGetValue((f, blk), out var l))
                return [];
            var lo = UpperBound(l, from);
            var hi = UpperBound(l, to);
            return hi > lo ? l.GetRange(lo, hi - lo) : [];
        }

        public long LastBlock(Oid f) => _lastBlock.GetValueOrDefault(f, -1);

        private static int UpperBound(List<ulong> l, ulong v)
        {
            int lo = 0, hi = l.Count;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (l[mid] <= v) lo = mid + 1; else hi = mid;
            }
            return lo;
        }
    }

    [Fact]
    public void Head_block_history_agrees_with_a_brute_force_model_over_random_steps()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("WCFS_TEST_SEED"), out var s) ? s : Environment.TickCount;
        output.WriteLine($"HeadModelTests seed {seed} (replay: WCFS_TEST_SEED={seed})");
        var rng = new Random(seed);
        const ulong start = 100;
        var head = new Head(new Tid(start), TimeSpan.Zero);
        var m = new Model { Tail = start, HeadAt = start, DataAt = start };
        var known = new Dictionary<Oid, HeadFile>();
        var watches = new List<Watch>();
        var waiters = new List<(ulong At, Task Done)>();
        var pending = false; // a commit begun (DataAt moved) but not finished (HeadAt behind)
        var step = 0;
        string Where() => $"seed {seed}, step {step}";

        try
        {
            for (step = 0; step < Steps; step++)
            {
                lock (head.Lock)
                {
                    switch (rng.Next(10))
                    {
                        case 0 or 1 or 2 when !pending: // commit step 1: a change record
                        {
                            var tid = m.DataAt + (ulong)rng.Next(1, 4);
                            var blocks = new Dictionary<Oid, long[]>();
                            var objects = new HashSet<Oid>();
                            foreach (var f in Files)
                            {
                                if (rng.Next(3) == 0)
                                    continue;
                                if (!m.Created.ContainsKey(f))
                                {
                                    if (rng.Next(20) != 0)
                                        continue;
                                    m.Created[f] = tid; // the file object is written once, by the commit creating it
                                    objects.Add(f);
                                }
                                blocks[f] = [.. Enumerable.Range(0, rng.Next(0, 4)).Select(_ => (long)rng.Next(Blocks)).Distinct().Order()];
                            }
                            m.Commit(tid, blocks);
                            head.BeginCommit(new ChangeRecord(new Tid(tid), [.. objects], blocks));
                            m.DataAt = tid;
                            pending = true;
                            break;
                        }
                        case 3 when pending: // commit last step: head/at moves, waiters wake
                            foreach (var done in head.FinishCommit(new Tid(m.DataAt)))
                                done.TrySetResult();
                            m.HeadAt = m.DataAt;
                            pending = false;
                            break;
                        case 4: // lookup of a file not yet known: history comes from the window
                        {
                            var f = Files[rng.Next(Files.Length)];
                            if (!known.ContainsKey(f) && m.Created.ContainsKey(f)) // only an existing file can be looked up
                                known[f] = head.Register(f, 4096, 100 + f.Value, m.LastBlock(f));
                            break;
                        }
                        case 5 when known.Count > 0: // a read through head/ marks a block accessed
                            known.Values.ElementAt(rng.Next(known.Count)).Accessed.Add(rng.Next(Blocks));
                            break;
                        case 6 when known.Count > 0: // a watch appears, moves forward or goes away
                        {
                            var r = rng.Next(3);
                            if (r == 0 || watches.Count == 0)
                            {
                                var f = known.Values.ElementAt(rng.Next(known.Count));
                                // a watch before the file's creation is refused (issue 12, item 8): never at < Created.
                                // A lookup registers a file at DataAt, so it can be known while the commit creating it
                                // is still pending (Created > HeadAt): every at ≤ HeadAt would be refused then.
                                if (m.Created[f.Oid] > m.HeadAt)
                                    break;
                                var w = new Watch(0, null!, f, new Tid(RandomAt(rng, Math.Max(m.Tail, m.Created[f.Oid]), m.HeadAt)));
                                f.Watches.Add(w);
                                watches.Add(w);
                            }
                            else
                            {
                                var w = watches[rng.Next(watches.Count)];
                                if (r == 1)
                                    w.At = new Tid(RandomAt(rng, w.At.Value, m.HeadAt));
                                else
                                {
                                    w.File.Watches.Remove(w);
                                    watches.Remove(w);
                                }
                            }
                            break;
                        }
                        case 7: // a watch setup for an at in the future waits for head/at
                        {
                            var at = RandomAt(rng, m.Tail, m.DataAt + 5);
                            waiters.Add((at, head.WaitHeadAt(new Tid(at))));
                            break;
                        }
                        case 8: // trimming, as far as the live watches allow (window 0, every record old)
                        {
                            var minWatch = watches.Count == 0 ? ulong.MaxValue : watches.Min(w => w.At.Value);
                            var inWindow = m.Commits.Where(c => c > m.Tail).ToList();
                            var expected = m.Tail;
                            for (var i = 0; i < inWindow.Count - 1 && inWindow[i] <= minWatch; i++)
                                expected = inWindow[i];
                            head.Trim(DateTime.UtcNow + TimeSpan.FromDays(1));
                            Assert.True(expected == head.Tail.Value, $"{Where()}: Trim moved Tail to {head.Tail.Value}, model {expected}");
                            m.Tail = expected;
                            break;
                        }
                    }
                    Check(head, m, known, watches, rng, Where);
                }
                foreach (var (at, done) in waiters)
                    Assert.True(done.IsCompleted == (at <= m.HeadAt), $"{Where()}: head/at waiter for {at} completed={done.IsCompleted} at HeadAt {m.HeadAt}");
                waiters.RemoveAll(w => w.Done.IsCompleted);
            }
        }
        catch (Exception e) when (e is not Xunit.Sdk.XunitException)
        {
            // an error of the test itself (not a failed check) still names the seed that replays it
            throw new InvalidOperationException($"{Where()}: {e.GetType().Name}: {e.Message}", e);
        }
        output.WriteLine($"{Steps} steps: {m.Commits.Count} commits, Tail {m.Tail - start} past start, {watches.Count} live watches");
    }

    private static ulong RandomAt(Random rng, ulong lo, ulong hi) => lo + (ulong)rng.NextInt64(0, (long)(hi - lo) + 1);

    private static void Check(Head head, Model m, Dictionary<Oid, HeadFile> known, List<Watch> watches, Random rng, Func<string> where)
    {
        Assert.True(head.Tail.Value == m.Tail && head.HeadAt.Value == m.HeadAt && head.DataAt.Value == m.DataAt,
            $"{where()}: Tail/HeadAt/DataAt {head.Tail}/{head.HeadAt}/{head.DataAt}, model {m.Tail}/{m.HeadAt}/{m.DataAt}");
        Assert.True(m.Tail <= m.HeadAt && m.HeadAt <= m.DataAt, $"{where()}: Tail ≤ HeadAt ≤ DataAt broken");
        foreach (var w in watches)
            Assert.True(w.At.Value >= m.Tail, $"{where()}: a live watch at {w.At} fell out of history (Tail {m.Tail})");
        foreach (var (oid, f) in known)
        {
            Assert.True(m.LastBlock(oid) == f.LastBlock, $"{where()}: {oid} LastBlock {f.LastBlock}, model {m.LastBlock(oid)}");
            Assert.Equal(BlockNumber.FileSize(f.LastBlock, f.BlockSize), f.Size);
            var at = new Tid(RandomAt(rng, Math.Max(m.Tail, m.Created[oid]), m.DataAt));
            var freshPins = new Dictionary<long, Tid>();
            for (long blk = 0; blk < Blocks; blk++)
            {
                var window = m.Changes(oid, blk, m.Tail, m.DataAt);
                Assert.True(window.SequenceEqual(f.BlockHistory.TryGetValue(blk, out var l) ? l.Select(t => t.Value) : []),
                    $"{where()}: {oid} #{blk} history [{string.Join(",", l ?? [])}], model [{string.Join(",", window)}]");
                Assert.Equal(window.Count > 0 ? new Tid(window[^1]) : (Tid?)null, f.LastChange(blk));
                var upToAt = m.Changes(oid, blk, m.Tail, at.Value);
                Assert.Equal(upToAt.Count > 0 ? new Tid(upToAt[^1]) : (Tid?)null, f.LastChangeAtOrBefore(blk, at));
                var changedAfter = m.Changes(oid, blk, at.Value, m.DataAt).Count > 0;
                Assert.True(changedAfter == Head.ChangedAfter(f, blk, at), $"{where()}: {oid} #{blk} ChangedAfter @{at}");

                var rev = head.RevFor(f, blk, at);
                Assert.True(rev.Value >= m.Tail && rev.Value <= m.DataAt, $"{where()}: {oid} #{blk} RevFor @{at} = {rev} is outside [{m.Tail}, {m.DataAt}]");
                Assert.True(m.Version(oid, blk, rev.Value) == m.Version(oid, blk, at.Value),
                    $"{where()}: {oid} #{blk} pinned to @{rev} shows the change of {m.Version(oid, blk, rev.Value)}, but @{at} shows {m.Version(oid, blk, at.Value)}");
                if (f.Accessed.Contains(blk) && changedAfter)
                    freshPins[blk] = rev;
            }
            // watch setup at `at`: exactly the accessed blocks changed after at, each at its RevFor
            var setup = f.Accessed.Where(b => Head.ChangedAfter(f, b, at)).ToDictionary(b => b, b => head.RevFor(f, b, at));
            var model = f.Accessed.Where(b => m.Changes(oid, b, at.Value, m.DataAt).Count > 0).ToHashSet();
            Assert.True(model.SetEquals(setup.Keys), $"{where()}: watch setup @{at} of {oid} pins [{string.Join(",", setup.Keys.Order())}], model [{string.Join(",", model.Order())}]");
            Assert.Equal(freshPins.OrderBy(kv => kv.Key), setup.OrderBy(kv => kv.Key));
        }
    }
}
