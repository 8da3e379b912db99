// WcfsSession - the seam between a Connection and the WCFS client (issue 6 parts 1 and 4).
//
// A Connection keeps one WCFS Conn in sync with its At: CommitAsync and AbortAsync end with
// ResyncAsync(newAt) and return only after it (VIRTMEM.md §4.4: user code never sees the window
// between MARKSTORED and the end of the resync). The base layer of every BigFileH the connection
// opens comes from the same Conn: OpenBaseAsync gives an overlay-mode BigFile whose base is the
// WCFS file of that oid (head + pins as of At, `FileH.MmapAsync(blkStart, blkLen, vma)`).
//
// The real factory is WcfsClientSessions (the default of Database.OpenAsync). PendingWcfsSessions
// keeps only the connection's bookkeeping (At, resync calls) and refuses to open a base: object-level
// tests use it where no WCFS server runs.
//
// Threading: called only from the connection's one flow (Connection invariant (1)), never from an
// actor or the fault path.
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Db;

/// <summary>The WCFS Conn of one <see cref="Connection"/> (internal seam, filled by the WCFS client).</summary>
internal interface IWcfsSession : IAsyncDisposable
{
    /// <summary>The revision the session shows.</summary>
    Tid At { get; }

    /// <summary>Moves to <paramref name="at"/> (≥ At): returns once every base of the session shows <paramref name="at"/>.</summary>
    Task ResyncAsync(Tid at);

    /// <summary>An overlay-mode BigFile over the WCFS file <paramref name="file"/> as of <see cref="At"/>,
    /// whose storeblk is <paramref name="store"/>.</summary>
    Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store);
}

/// <summary>Creates the WCFS session of a connection that starts at a revision.</summary>
internal interface IWcfsSessionFactory
{
    /// <summary>A session at <paramref name="at"/> (joins or autostarts the server of the database as needed).</summary>
    Task<IWcfsSession> ConnectAsync(Tid at);
}

/// <summary>Sessions without a WCFS server (object-level tests): they track At and refuse to open a base layer.</summary>
internal sealed class PendingWcfsSessions : IWcfsSessionFactory
{
    public static readonly PendingWcfsSessions Instance = new();

    public Task<IWcfsSession> ConnectAsync(Tid at) => Task.FromResult<IWcfsSession>(new Session(at));

    private sealed class Session(Tid at) : IWcfsSession
    {
        public Tid At { get; private set; } = at;

        public Task ResyncAsync(Tid at)
        {
            if (at < At)
                throw new InvalidOperationException($"resync back from @{At} to @{at}");
            At = at;
            return Task.CompletedTask;
        }

        public Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store) =>
            throw new NotSupportedException(
                $"cannot map ZBigFile {file}: this database was opened without a WCFS session");

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
