// ZBigFile - a big file of fixed-size blocks stored in the database (API.md §1, issue 6 part 5).
//
// Its pages are reached through OpenAsync → BigFileH, which the connection binds to its
// transactions: dirty pages are written at commit and dropped at abort. The base layer under the
// dirty pages is the WCFS file of this oid (overlay mode), provided by the connection's WCFS session.
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Db;

/// <summary>A big file of fixed-size blocks, stored with its connection's transactions.</summary>
public sealed class ZBigFile : Persistent
{
    /// <summary>The default block size, 2 MiB.</summary>
    public const int DefaultBlockSize = ZBigFileState.DefaultBlockSize;

    internal ZBigFile(Connection connection, Oid oid, ZBigFileState state, bool isNew = false)
        : base(connection, oid, state, isNew)
    {
        BlockSize = state.BlockSize;
    }

    /// <summary>Block size in bytes (a power of two from 4 KiB to 64 MiB; never changes).</summary>
    public int BlockSize { get; }

    /// <summary>
    /// A new empty file in <paramref name="connection"/>'s transaction: its oid is allocated now, others
    /// see it from the commit that stores it. Give it a root name (or reference it from an array) to
    /// find it again.
    /// </summary>
    /// <exception cref="ArgumentException">The block size is not a power of two from 4 KiB to 64 MiB.</exception>
    public static ZBigFile Create(Connection connection, int blockSize = DefaultBlockSize)
    {
        ArgumentNullException.ThrowIfNull(connection);
        if (!ZBigFileState.IsValidBlockSize(blockSize))
            throw new ArgumentException($"block size {blockSize} is not a power of two from 4 KiB to 64 MiB", nameof(blockSize));
        using var flow = connection.EnterFlow("create a ZBigFile");
        return CreateCore(connection, blockSize);
    }

    internal static ZBigFile CreateCore(Connection connection, int blockSize) =>
        new(connection, connection.NewOid(), new ZBigFileState(blockSize), isNew: true);

    /// <summary>
    /// The connection's handle of this file (the same one on every call): map it with
    /// <see cref="BigFileH.MmapAsync"/>; writes become dirty pages committed or dropped with the
    /// connection's transaction.
    /// </summary>
    /// <exception cref="InvalidOperationException">The file was created in this transaction (commit first),
    /// or the connection is used concurrently.</exception>
    /// <exception cref="WcfsServerGoneException">The WCFS server is gone.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<BigFileH> OpenAsync(CancellationToken cancellationToken = default)
    {
        using var flow = Connection.EnterFlow($"open ZBigFile {Oid}");
        return await OpenCoreAsync(cancellationToken).ConfigureAwait(false);
    }

    internal Task<BigFileH> OpenCoreAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDetached();
        cancellationToken.ThrowIfCancellationRequested();
        if (IsNew)
            throw new InvalidOperationException($"ZBigFile {Oid} was created in this transaction: commit first, then open it (WCFS serves only committed files)");
        return Connection.OpenFileCoreAsync(this, cancellationToken);
    }

    private protected override void CheckState(ObjectState state)
    {
        if (state is not ZBigFileState f)
            throw new InvalidOperationException($"object {Oid} is a {state.GetType().Name}, not a ZBigFile");
        if (f.BlockSize != BlockSize)
            throw new InvalidOperationException($"ZBigFile {Oid}: block size changed from {BlockSize} to {f.BlockSize}, which never happens to a file");
    }
}
