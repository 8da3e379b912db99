// Database - the entry point of the transactional big-file API (API.md §1, issue 6 part 4).
//
// What it owns: the storage (IStorage from a URL; empty → the embedded SQLite default of
// WcfsSettings), the pool of closed connections (reused: opening one again resyncs it to the
// latest revision) and the factory of WCFS sessions (one per open connection, IWcfsSession).
// It runs in one WcfsRuntime (Hosting/WcfsRuntime.cs): the app's actor system, or exactly one it
// creates and owns when none is given; the WCFS client of its connections runs in the same system.
// What it does not own: the settings and the VirtmemActors holding the connections' dirty pages
// (the runtime's: one per page size), objects and transactions (Connection), the WCFS server
// (autostarted by the WCFS client), mappings (disposed by their users).
//
// Organization of Wcfs.Actors/Db:
//   Database            storage, pool, virtmem actors, WCFS session factory
//   Connection          At, Root, commit/abort protocol, object cache, open file handles
//   FlowGuard           one logical flow per connection
//   Persistent, Root    object states (table in Persistent.cs) and the name map
//   ZBigFile            a file of blocks → BigFileH bound to the connection's transactions
//   ZBigArray<T>        shape state + element bytes in a ZBigFile; views over mapped blocks
//   TransactionBlockStore   storeblk collecting a transaction's blocks for its one storage commit
//   WcfsSession         the seam to the WCFS client (resync, base layer of a BigFile)
//
// Invariants:
//   (1) a connection is in the pool only while closed; at most one flow holds it when open;
//   (2) disposing the database disposes every connection it made (open or pooled; their BigFileHs
//       close in the runtime's virtmem actors), then the WCFS sessions, the actor system if the
//       database created it, and the storage — in that order, so no handle outlives its actor.
//
// Threading: OpenConnectionAsync and DisposeAsync may be called from any thread; the pool is under
// one lock never held while waiting.
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Hosting;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Db;

/// <summary>Options of <see cref="Database.OpenAsync"/>.</summary>
public sealed record DatabaseOptions
{
    /// <summary>The actor system hosting the runtime's actors (its <see cref="WcfsRuntime"/> gives the
    /// settings); null: the database creates one ("wcfs", from <see cref="Config"/>) and owns it.</summary>
    public ActorSystem? System { get; init; }

    /// <summary>Configuration of the actor system the database creates when <see cref="System"/> is null
    /// (reference.conf is the fallback).</summary>
    public Config? Config { get; init; }

    /// <summary>
    /// How each open connection's WCFS Conn joins the server of the database (its <c>System</c> is
    /// always the database's). Null: the standard mountpoint under <c>wcfs.mount-root</c>, the server
    /// autostarted when <c>wcfs.autostart</c> is on.
    /// </summary>
    public WcfsClientOptions? Wcfs { get; init; }

    /// <summary>The WCFS sessions of the connections (the seam the WCFS client fills; tests).</summary>
    internal IWcfsSessionFactory? Sessions { get; init; }
}

/// <summary>A transactional database of big files and arrays.</summary>
public sealed class Database : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<Connection> _pool = new();
    private readonly List<Connection> _all = [];
    private readonly bool _ownsSystem;
    private bool _disposed;

    private Database(IStorage storage, string url, WcfsRuntime runtime, bool ownsSystem, DatabaseOptions options)
    {
        Storage = storage;
        Runtime = runtime;
        _ownsSystem = ownsSystem;
        Sessions = options.Sessions ?? new WcfsClientSessions(url, (options.Wcfs ?? new WcfsClientOptions()) with { System = runtime.System });
    }

    /// <summary>The storage URL (never contains a password).</summary>
    public string Url => Storage.Url;

    /// <summary>The runtime (actor system, settings, actors) the database runs in.</summary>
    public WcfsRuntime Runtime { get; }

    /// <summary>The validated <c>wcfs { }</c> settings in effect (the runtime's).</summary>
    public WcfsSettings Settings => Runtime.Settings;

    internal IStorage Storage { get; }

    internal IWcfsSessionFactory Sessions { get; }

    internal TimeSpan AskTimeout => Settings.Virtmem.AskTimeout;

    /// <summary>
    /// Opens the database at <paramref name="url"/> (<c>sqlite:///abs/path.db</c>, a path, or
    /// <c>postgresql://...</c>); an empty URL opens the embedded default (<c>wcfs.storage</c>, else
    /// SQLite in <c>wcfs.data-dir</c>).
    /// </summary>
    /// <exception cref="StorageException">Bad URL, foreign or corrupt database, I/O failure.</exception>
    /// <exception cref="ConfigurationException">Invalid settings (the message names the key).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (nothing stays open).</exception>
    public static async Task<Database> OpenAsync(string url, DatabaseOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        cancellationToken.ThrowIfCancellationRequested();
        options ??= new DatabaseOptions();
        var ownsSystem = options.System is null;
        var system = options.System ?? ActorSystem.Create("wcfs", Hosting.TimerQueueScheduler.For(StderrLogger.For(options.Config ?? Config.Empty))); // ours: never the host's stdout
        try
        {
            var runtime = WcfsRuntime.Get(system);
            var settings = runtime.Settings;
            if (url.Trim().Length == 0)
            {
                url = settings.EffectiveStorageUrl;
                if (settings.Storage.Length == 0)
                    Directory.CreateDirectory(settings.DataDir);
            }
            var storageOptions = StorageOptions.FromSettings(settings);
            var storage = await Task.Run(() => StorageFactory.Open(url, storageOptions), CancellationToken.None).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                storage.Dispose();
                cancellationToken.ThrowIfCancellationRequested();
            }
            return new Database(storage, url, runtime, ownsSystem, options);
        }
        catch
        {
            if (ownsSystem)
                await system.Terminate().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>A connection at the latest revision (a closed one is reused and resynced).</summary>
    /// <exception cref="ObjectDisposedException">The database is disposed.</exception>
    /// <exception cref="WcfsServerGoneException">The WCFS server is gone (the database serves files through WCFS).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<Connection> OpenConnectionAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Connection c;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_pool.TryPop(out c!))
            {
                c = new Connection(this);
                _all.Add(c);
            }
        }
        try
        {
            await c.OpenAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Release(c);
            throw;
        }
        return c;
    }

    internal void Release(Connection c)
    {
        lock (_lock)
        {
            if (!_disposed)
                _pool.Push(c); // invariant (1): only closed connections are pooled
        }
    }

    /// <summary>The VirtmemActor for files of <paramref name="blockSize"/>-byte blocks (page size =
    /// min(wcfs.client.page-size, block size), so that it divides the block size); the runtime's.</summary>
    internal IActorRef Virtmem(int blockSize)
    {
        lock (_lock)
            ObjectDisposedException.ThrowIf(_disposed, this);
        return Runtime.Virtmem(Math.Min(Settings.Client.PageSize, blockSize));
    }

    /// <summary>Closes every connection (pending transactions are aborted), stops the actor system if the
    /// database created it, and closes the storage (invariant (2)).</summary>
    public async ValueTask DisposeAsync()
    {
        List<Connection> all;
        lock (_lock)
        {
            if (_disposed)
                return;
            _disposed = true;
            all = [.. _all];
            _pool.Clear();
        }
        foreach (var c in all)
            await c.DisposeAsync().ConfigureAwait(false);
        if (Sessions is IAsyncDisposable sessions)
            await sessions.DisposeAsync().ConfigureAwait(false);
        if (_ownsSystem)
            await Runtime.System.Terminate().ConfigureAwait(false);
        Storage.Dispose();
    }
}
