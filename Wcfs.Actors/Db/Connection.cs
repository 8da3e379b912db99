// Connection - a view of the database as of one revision At, with its own transaction (API.md §1,
// issue 6 part 4). Like a ZODB connection: objects load lazily as of At; what the transaction
// changes (objects and dirty pages of its files) is written at commit against base At.
//
// Commit protocol (VIRTMEM.md §3 and §4.4):
//   1. writeout STORE of every dirty BigFileH: its storeblk (TransactionBlockStore) collects blocks;
//   2. ONE storage commit with baseAt = At: the collected blocks and the modified objects;
//   3. MARKSTORED of those handles (dirty pages go back to the base, RAM freed);
//   4. At = new tid, clean objects become ghosts (others' commits show on their next read);
//   5. WCFS resync to the new At — CommitAsync returns only after it.
// Abort: discard every handle, drop modifications, At = storage's last tid, resync.
// A failing step 1 or 2 (ConflictException, storage failure, storeblk failure) runs abort and
// rethrows: the connection is then at the latest revision, clean and usable.
// A WCFS server gone during a transaction: step 5 waits for a new server on the same storage (up to
// wcfs.client.reattach-timeout; the WCFS Conn re-attaches, dirty pages and the snapshot kept) and the
// commit completes. If none comes in time, step 5 fails with WcfsServerGoneException whose message
// says the commit IS stored (nothing committed is lost); the connection is then unusable, and
// closing it (or the Database) still releases everything — a new Database joins a new server.
//
// Invariants:
//   (1) one logical flow at a time: every public entry (here, Root, ZBigFile, ZBigArray) runs inside
//       FlowGuard; concurrent use throws InvalidOperationException naming both operations;
//   (2) At only moves forward, and every base of the WCFS session shows At when a public call returns;
//   (3) one object instance per oid per connection (_cache), also across close and reopen;
//   (4) between transactions no handle has dirty pages that are not part of the transaction: the
//       block stores are empty and _modified holds exactly the objects changed since the last boundary.
//
// Lifetime: Database.OpenConnectionAsync gives a connection (from its pool when one was closed);
// DisposeAsync aborts what is pending, closes its file handles and WCFS session and returns it to
// the pool; opening it again resyncs it to the latest revision.
//
// Threading: not thread-safe by design (invariant (1)); the only other thread touching its data is
// the VirtmemActor running storeblk during step 1, while the flow waits for it.
using System.Reflection;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Client;
using Wcfs.Actors.Diagnostics;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Db;

/// <summary>A view of a <see cref="Database"/> as of <see cref="At"/> with its own transaction.</summary>
public sealed class Connection : IAsyncDisposable
{
    private readonly Database _db;
    private readonly FlowGuard _guard = new();
    private readonly Dictionary<Oid, Persistent> _cache = [];
    private readonly List<Persistent> _modified = [];
    private readonly Dictionary<Oid, OpenFile> _files = [];
    private IWcfsSession? _session;
    private bool _closed = true;

    internal Connection(Database db)
    {
        _db = db;
        Root = new Root(this);
        _cache[Oid.Root] = Root;
    }

    /// <summary>The database.</summary>
    public Database Database => _db;

    /// <summary>The revision this connection shows; moves at commit and abort.</summary>
    public Tid At { get; private set; }

    /// <summary>The root object: names → objects.</summary>
    public Root Root { get; }

    /// <summary>True if the current transaction changed objects or pages.</summary>
    public bool HasChanges => _modified.Count > 0 || _files.Values.Any(f => !f.Handle.IsClosed && f.Handle.IsDirty);

    internal IStorage Storage => _db.Storage;

    /// <summary>The WCFS session while open (diagnostics, tests).</summary>
    internal IWcfsSession? WcfsSession => _session;

    internal async Task OpenAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        At = Storage.LastTid;
        foreach (var p in _cache.Values)
            p.Ghostify();
        _session = await _db.Sessions.ConnectAsync(At).ConfigureAwait(false);
        _closed = false;
    }

    /// <summary>
    /// Commits the transaction: dirty pages and changed objects in one storage commit against At,
    /// then moves At to the new tid and resyncs WCFS. With nothing changed it writes nothing and
    /// moves At to the latest revision. Returns the new At.
    /// </summary>
    /// <exception cref="ConflictException">Something written changed after At; the transaction is
    /// aborted (pages discarded, At at the latest revision) and the connection stays usable.</exception>
    /// <exception cref="InvalidOperationException">Used concurrently, or closed.</exception>
    /// <exception cref="WcfsServerGoneException">The commit is stored, but the WCFS server is gone so the
    /// connection cannot follow it (the message says so).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the
    /// commit started (nothing changed). Once started, a commit runs to its end: it is never left half done.</exception>
    public async Task<Tid> CommitAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var flow = EnterFlow("commit");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        List<OpenFile> dirty;
        Tid tid;
        long bytes = 0;
        var wrote = false;
        try
        {
            PruneClosedFiles();
            dirty = [.. _files.Values.Where(f => f.Handle.IsDirty)];
            foreach (var f in dirty)
                await f.Handle.WriteoutAsync(WriteoutFlags.Store).ConfigureAwait(false);
            var objects = _modified.Select(p => new ObjectWrite(p.Oid, p.CurrentState)).ToList();
            var blocks = dirty.SelectMany(f => f.Store.Drain()).ToList();
            bytes = blocks.Sum(b => (long)(b.Data?.Length ?? 0));
            wrote = objects.Count > 0 || blocks.Count > 0;
            tid = wrote ? await Task.Run(() => Storage.Commit(At, objects, blocks)).ConfigureAwait(false) : Storage.LastTid;
        }
        catch (Exception e)
        {
            if (e is ConflictException)
                WcfsMetrics.CommitConflicts.Add(1);
            await AbortCoreAsync().ConfigureAwait(false);
            throw;
        }
        var raced = await MarkStoredAsync(dirty).ConfigureAwait(false);
        var createdArrays = _modified.Where(p => p.IsNew).OfType<IZBigArray>().Select(a => a.FileOid).ToList();
        foreach (var p in _modified)
            p.AfterCommit();
        _modified.Clear();
        try
        {
            await MoveToAsync(tid).ConfigureAwait(false);
        }
        catch (WcfsServerGoneException e)
        {
            throw new WcfsServerGoneException($"commit @{tid} is stored in the database, but the connection cannot follow it: {e.Message}", e.Errno);
        }
        await OpenCreatedArraysAsync(createdArrays).ConfigureAwait(false);
        if (wrote)
        {
            WcfsMetrics.CommitBytes.Add(bytes);
            WcfsMetrics.CommitDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        if (raced is not null)
            throw new InvalidOperationException(
                $"commit @{tid} stored the pages as they were when the commit started, but pages were written during the commit " +
                $"({raced.Message}); those writes stay dirty in the next transaction: do not write pages while the connection commits", raced);
        return tid;
    }

    /// <summary>Opens the files of the arrays this commit created (they can be mapped from now on), so that
    /// their View/Append/Resize never wait (ZBigArray "Opening"). The commit is stored already: an open that
    /// fails (no WCFS session, server gone) is left to the array's OpenAsync to report (View then says to call it).</summary>
    private async Task OpenCreatedArraysAsync(List<Oid> files)
    {
        foreach (var oid in files)
        {
            try
            {
                await OpenFileCoreAsync(GetObject<ZBigFile>(oid)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is WcfsClientException or VirtmemException or TimeoutException or InvalidOperationException or NotSupportedException)
            {
                // the array's OpenAsync reports it (see the summary)
            }
        }
    }

    /// <summary>MARKSTORED of every handle stored in this commit. A handle whose MARKSTORED fails (a page
    /// written after STORE: a usage error, VIRTMEM.md §3) keeps its pages dirty — nothing written is lost:
    /// they belong to the next transaction — and the failure is returned for the caller to report once
    /// the connection is consistent again.</summary>
    private static async Task<Exception?> MarkStoredAsync(List<OpenFile> stored)
    {
        Exception? failure = null;
        foreach (var f in stored)
        {
            try
            {
                await f.Handle.WriteoutAsync(WriteoutFlags.MarkStored).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not ObjectDisposedException)
            {
                failure ??= e;
            }
        }
        return failure;
    }

    /// <summary>Drops the transaction's changes (pages and objects) and moves At to the latest revision.</summary>
    /// <exception cref="InvalidOperationException">Used concurrently, or closed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the
    /// abort started (nothing changed). Once started, an abort runs to its end.</exception>
    public async Task AbortAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var flow = EnterFlow("abort");
        await AbortCoreAsync().ConfigureAwait(false);
    }

    private async Task AbortCoreAsync()
    {
        PruneClosedFiles();
        foreach (var f in _files.Values)
        {
            f.Store.Clear();
            await f.Handle.DiscardAsync().ConfigureAwait(false);
        }
        foreach (var p in _modified)
        {
            p.AfterAbort();
            if (p.IsDetached)
                _cache.Remove(p.Oid);
        }
        _modified.Clear();
        await MoveToAsync(Storage.LastTid).ConfigureAwait(false);
    }

    private async Task MoveToAsync(Tid at)
    {
        if (at < At)
            throw new InvalidOperationException($"storage went back from @{At} to @{at}");
        At = at;
        foreach (var p in _cache.Values)
            p.Ghostify();
        await _session!.ResyncAsync(at).ConfigureAwait(false); // invariant (2)
    }

    /// <summary>Aborts what is pending, closes the file handles and the WCFS session, and returns the
    /// connection to its database for reuse. A second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_closed)
            return;
        using (var flow = EnterFlow("close"))
        {
            try
            {
                await AbortCoreAsync().ConfigureAwait(false);
            }
            catch (WcfsServerGoneException)
            {
                // The pages are discarded; only the resync of a session being closed failed.
            }
            finally
            {
                PruneClosedFiles();
                foreach (var f in _files.Values)
                {
                    await f.Handle.DisposeAsync().ConfigureAwait(false);
                    f.File.Dispose();
                }
                _files.Clear();
                if (_session is not null)
                    await _session.DisposeAsync().ConfigureAwait(false);
                _session = null;
                _closed = true;
            }
        }
        _db.Release(this);
    }

    internal FlowGuard.Scope EnterFlow(string what)
    {
        var scope = _guard.Enter(what);
        if (_closed)
        {
            scope.Dispose();
            throw new InvalidOperationException($"cannot {what}: the connection is closed (open a new one with Database.OpenConnectionAsync)");
        }
        return scope;
    }

    internal ObjectState? LoadState(Oid oid) => Storage.LoadObject(oid, At)?.State;

    internal void Register(Persistent p)
    {
        _modified.Add(p);
        _cache[p.Oid] = p;
    }

    internal Oid NewOid() => Storage.NewOid();

    /// <summary>The object <paramref name="oid"/> as a <typeparamref name="T"/> (one instance per oid, invariant (3)).</summary>
    internal T GetObject<T>(Oid oid) where T : Persistent
    {
        if (!_cache.TryGetValue(oid, out var p))
        {
            var state = LoadState(oid) ?? throw new KeyNotFoundException($"object {oid} does not exist as of @{At}");
            p = Materialize(oid, state, typeof(T));
            _cache[oid] = p;
        }
        return p as T ?? throw new InvalidCastException($"object {oid} is a {Describe(p)}, not a {typeof(T).Name}");
    }

    private static string Describe(Persistent p) => p is IZBigArray a ? $"ZBigArray of {a.Dtype}" : p.GetType().Name;

    private Persistent Materialize(Oid oid, ObjectState state, Type wanted) => state switch
    {
        ZBigFileState f => new ZBigFile(this, oid, f),
        ZBigArrayState a => MaterializeArray(oid, a, wanted),
        _ => throw new InvalidOperationException($"object {oid} holds a {state.GetType().Name}, which is not a loadable object"),
    };

    private Persistent MaterializeArray(Oid oid, ZBigArrayState state, Type wanted)
    {
        var element = wanted.IsGenericType && wanted.GetGenericTypeDefinition() == typeof(ZBigArray<>)
            ? wanted.GetGenericArguments()[0]
            : ArrayElementTypes.GetValueOrDefault(state.Dtype)
              ?? throw new InvalidCastException($"object {oid} is a ZBigArray of {state.Dtype}: load it with Root.Get<ZBigArray<T>> and the matching T");
        try
        {
            return (Persistent)Activator.CreateInstance(
                typeof(ZBigArray<>).MakeGenericType(element), BindingFlags.NonPublic | BindingFlags.Instance,
                null, [this, oid, state], null)!;
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException is ArgumentException ae
                ? new InvalidCastException($"object {oid}: {ae.Message}", ae)
                : e.InnerException;
        }
    }

    /// <summary>Element types for arrays loaded without a type (Root indexer): dtype name → T.</summary>
    private static readonly Dictionary<string, Type> ArrayElementTypes = new[]
    {
        typeof(double), typeof(float), typeof(Half), typeof(long), typeof(int), typeof(short), typeof(sbyte),
        typeof(ulong), typeof(uint), typeof(ushort), typeof(byte), typeof(bool), typeof(System.Numerics.Complex),
    }.ToDictionary(t => (string)typeof(Dtype).GetMethod(nameof(Dtype.NameOf))!.MakeGenericMethod(t).Invoke(null, null)!);

    /// <summary>The connection's BigFileH of <paramref name="file"/> (opened on first use; unguarded core).</summary>
    internal async Task<BigFileH> OpenFileCoreAsync(ZBigFile file, CancellationToken cancellationToken = default)
    {
        PruneClosedFiles();
        if (_files.TryGetValue(file.Oid, out var open))
            return open.Handle;
        var store = new TransactionBlockStore(Storage, file.Oid, file.BlockSize, () => At);
        var big = await _session!.OpenBaseAsync(file.Oid, file.BlockSize, store).ConfigureAwait(false);
        try
        {
            var handle = await VirtmemProtocol.OpenAsync(_db.Virtmem(file.BlockSize), big, _db.AskTimeout, cancellationToken).ConfigureAwait(false);
            _files[file.Oid] = new OpenFile(big, handle, store);
            return handle;
        }
        catch
        {
            big.Dispose();
            throw;
        }
    }

    /// <summary>Forgets files whose BigFileH the user disposed (their dirty pages went with the handle).</summary>
    private void PruneClosedFiles()
    {
        foreach (var (oid, f) in _files.Where(kv => kv.Value.Handle.IsClosed).ToList())
        {
            f.File.Dispose();
            _files.Remove(oid);
        }
    }

    /// <summary>The connection's BigFileH of <paramref name="file"/> if it was opened, else null.</summary>
    internal BigFileH? OpenedHandle(Oid file) => _files.TryGetValue(file, out var f) ? f.Handle : null;

    /// <summary>The storeblk collector of <paramref name="file"/> if it was opened (tests).</summary>
    internal TransactionBlockStore? StoreOf(Oid file) => _files.TryGetValue(file, out var f) ? f.Store : null;

    private sealed record OpenFile(BigFile File, BigFileH Handle, TransactionBlockStore Store);
}
