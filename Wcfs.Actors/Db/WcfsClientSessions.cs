// WcfsClientSessions - the WCFS sessions of a Database's connections over the real WCFS client:
// one WcfsClient per database (joined, or the server autostarted, on the first connection) and one
// WCFS Conn per open Connection, resynced with it (WcfsSession.cs).
//
// What works: the Conn's lifetime follows the connection's (open → ConnectAsync(At), commit/abort
// → ResyncAsync(newAt), which returns once the server's head reached it and every watch moved;
// close → the Conn's watch link is closed). What does not yet: OpenBaseAsync. The native side
// exists (wcl_file_vm_base → an overlay vm_file_t whose base is the WCFS file, pins vs dirty pages
// handled natively; ClientNative.FileVmBase); the managed glue is missing and belongs to the client
// and virtmem branches:
//   - client:  FileH → an owned VmFileHandle from wcl_file_vm_base (e.g. internal FileH.CreateVmBase());
//   - virtmem: BigFile over such a handle with a storeblk (e.g. internal BigFile.OverBase(VmFileHandle, IBlockStore)).
// With them OpenBaseAsync is: fh = await conn.OpenAsync(file); return BigFile.OverBase(fh.CreateVmBase(), store),
// keeping fh open until the session is disposed (the vm_file must die before its WCFS file: the
// Connection closes its BigFileHs and BigFiles before disposing the session).
//
// Threading: ConnectAsync may run concurrently for different connections (the join is shared);
// a session is used by its connection's one flow.
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Db;

internal sealed class WcfsClientSessions(string url, WcfsClientOptions options) : IWcfsSessionFactory, IAsyncDisposable
{
    private readonly SemaphoreSlim _join = new(1, 1);
    private WcfsClient? _client;

    public async Task<IWcfsSession> ConnectAsync(Tid at)
    {
        var client = await ClientAsync().ConfigureAwait(false);
        return new Session(await client.ConnectAsync(at).ConfigureAwait(false));
    }

    private async Task<WcfsClient> ClientAsync()
    {
        await _join.WaitAsync().ConfigureAwait(false);
        try
        {
            return _client ??= await WcfsClient.JoinAsync(url, options).ConfigureAwait(false);
        }
        finally
        {
            _join.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is not null)
            await _client.DisposeAsync().ConfigureAwait(false);
        _client = null;
    }

    private sealed class Session(Conn conn) : IWcfsSession
    {
        public Tid At => conn.At;

        public Task ResyncAsync(Tid at) => at == conn.At ? Task.CompletedTask : conn.ResyncAsync(at);

        public Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store) =>
            throw new NotSupportedException(
                $"cannot map ZBigFile {file}: the WCFS client has no base layer for virtmem yet " +
                "(FileH.MmapAsync(blkStart, blkLen, vma), issue 6 part 1)");

        public ValueTask DisposeAsync() => conn.DisposeAsync();
    }
}
