// Database - the entry point of the transactional big-file API (API.md §1, issue 6 part 4).
//
// What it owns: the storage (IStorage from a URL; empty → the embedded SQLite default of
// WcfsSettings), the pool of closed connections (reused: opening one again resyncs it to the
// latest revision), the factory of WCFS sessions (one per open connection, IWcfsSession), and the
// VirtmemActors holding the connections' dirty pages (one per page size, created on first use in
// the given ActorSystem, or in one the database creates and owns).
// What it does not own: objects and transactions (Connection), the WCFS server (autostarted by the
// WCFS client), mappings (disposed by their users).
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
//   (2) disposing the database disposes every connection it made (open or pooled), then the
//       virtmem actors and the storage — in that order, so no handle outlives its actor.
//
// Threading: OpenConnectionAsync and DisposeAsync may be called from any thread; the pool and the
// actor table are under one lock never held while waiting.
using Akka.Actor;
using Akka.Configuration;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Db;

/// <summary>Options of <see cref="Database.OpenAsync"/>.</summary>
public sealed record DatabaseOptions
{
    /// <summary>The actor system hosting the runtime's actors (its config falls back to reference.conf);
    /// null: the database creates and owns one when first needed.</summary>
    public ActorSystem? System { get; init; }

    /// <summary>Configuration used when the database creates its own actor system, and for
    /// <c>wcfs { }</c> settings (reference.conf is the fallback).</summary>
    public Config? Config { get; init; }

    /// <summary>
    /// How each open connection's WCFS Conn joins the server of the database. Null: the standard
    /// mountpoint under <c>wcfs.mount-root</c>, the server autostarted when <c>wcfs.autostart</c> is on.
    /// </summary>
    public Wcfs.Actors.Client.WcfsClientOptions? Wcfs { get; init; }

    /// <summary>The WCFS sessions of the connections (the seam the WCFS client fills; tests).</summary>
    internal IWcfsSessionFactory? Sessions { get; init; }
}

/// <summary>A transactional database of big files and arrays.</summary>
public sealed class Database : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly Stack<Connection> _pool = new();
    private readonly List<Connection> _all = [];
    private readonly Dictionary<long, IActorRef> _virtmem = [];
    private readonly DatabaseOptions _options;
    private readonly Config _config;
    private ActorSystem? _system;
    private bool _disposed;

    private Database(IStorage storage, string url, DatabaseOptions options, Config config, WcfsSettings settings)
    {
        Storage = storage;
        _options = options;
        _config = config;
        Settings = settings;
        Sessions = options.Sessions ?? new WcfsClientSessions(url, options.Wcfs ?? DefaultWcfs(url, options, settings));
        VirtmemSettings = VirtmemProtocol.Settings.FromConfig(config);
        _system = options.System;
    }

    private static Wcfs.Actors.Client.WcfsClientOptions DefaultWcfs(string url, DatabaseOptions options, WcfsSettings settings) => new()
    {
        System = options.System,
        // The client reads wcfs.* from its actor system; a database without one passes its own settings.
        Mountpoint = options.System is null && settings.MountRoot != WcfsSettings.Default.MountRoot
            ? Wcfs.Actors.Protocol.MountPoint.For(url, settings.MountRoot) : null,
        Autostart = settings.Autostart,
    };

    /// <summary>The storage URL (never contains a password).</summary>
    public string Url => Storage.Url;

    /// <summary>The validated <c>wcfs { }</c> settings in effect.</summary>
    public WcfsSettings Settings { get; }

    internal IStorage Storage { get; }

    internal IWcfsSessionFactory Sessions { get; }

    internal VirtmemProtocol.Settings VirtmemSettings { get; }

    internal TimeSpan AskTimeout => VirtmemSettings.AskTimeout;

    /// <summary>
    /// Opens the database at <paramref name="url"/> (<c>sqlite:///abs/path.db</c>, a path, or
    /// <c>postgresql://...</c>); an empty URL opens the embedded default (<c>wcfs.storage</c>, else
    /// SQLite in <c>wcfs.data-dir</c>).
    /// </summary>
    /// <exception cref="StorageException">Bad URL, foreign or corrupt database, I/O failure.</exception>
    /// <exception cref="ConfigurationException">Invalid settings (the message names the key).</exception>
    public static Task<Database> OpenAsync(string url, DatabaseOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        options ??= new DatabaseOptions();
        var config = WcfsSettings.WithReference(options.System?.Settings.Config ?? options.Config);
        var settings = WcfsSettings.FromConfig(config);
        if (url.Trim().Length == 0)
        {
            url = settings.EffectiveStorageUrl;
            if (settings.Storage.Length == 0)
                Directory.CreateDirectory(settings.DataDir);
        }
        return Task.Run(() => new Database(StorageFactory.Open(url), url, options, config, settings));
    }

    /// <summary>A connection at the latest revision (a closed one is reused and resynced).</summary>
    /// <exception cref="ObjectDisposedException">The database is disposed.</exception>
    public async Task<Connection> OpenConnectionAsync()
    {
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
            await c.OpenAsync().ConfigureAwait(false);
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
    /// min(wcfs.client.page-size, block size), so that it divides the block size).</summary>
    internal IActorRef Virtmem(int blockSize)
    {
        var pageSize = Math.Min(VirtmemSettings.PageSize, blockSize);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_virtmem.TryGetValue(pageSize, out var actor))
            {
                _system ??= ActorSystem.Create("wcfs-db", StderrLogger.For(_config)); // ours: never the host's stdout
                actor = _system.ActorOf(VirtmemProtocol.Props(VirtmemSettings with { PageSize = pageSize }), $"wcfs-db-virtmem-{pageSize}-{Guid.NewGuid():N}");
                _virtmem[pageSize] = actor;
            }
            return actor;
        }
    }

    /// <summary>Closes every connection (pending transactions are aborted), stops the database's
    /// actors and closes the storage (invariant (2)).</summary>
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
        foreach (var a in _virtmem.Values)
            await a.GracefulStop(AskTimeout).ConfigureAwait(false);
        if (Sessions is IAsyncDisposable sessions)
            await sessions.DisposeAsync().ConfigureAwait(false);
        if (_options.System is null && _system is not null)
            await _system.Terminate().ConfigureAwait(false);
        Storage.Dispose();
    }
}
