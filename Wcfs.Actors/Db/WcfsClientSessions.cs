// WcfsClientSessions - the WCFS sessions of a Database's connections over the real WCFS client:
// one WcfsClient per database (joined, or the server autostarted, on the first connection) and one
// WCFS Conn per open Connection, resynced with it (WcfsSession.cs).
//
// The base layer of a connection's BigFileHs: OpenBaseAsync opens the file on the session's Conn (a
// shared, reference-counted FileH) and makes an overlay BigFile over it (BigFile.OverWcfs →
// wcl_file_vm_base: every VMA gets a WCFS Mapping at its address range; pins leave dirty pages in
// place and apply when they go away). The FileH stays open until the session is disposed; the
// Connection disposes its BigFileHs and BigFiles before the session (the vm_file must die before
// its WCFS file).
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

    /// <summary>The joined client (null before the first connection); tests check its actor system.</summary>
    internal WcfsClient? Client => _client;

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
        private readonly List<FileH> _files = [];

        public Tid At => conn.At;

        public Task ResyncAsync(Tid at) => at == conn.At ? Task.CompletedTask : conn.ResyncAsync(at);

        public async Task<BigFile> OpenBaseAsync(Oid file, int blockSize, IBlockStore store)
        {
            var fh = await conn.OpenAsync(file).ConfigureAwait(false);
            if (fh.BlockSize != blockSize)
            {
                await fh.DisposeAsync().ConfigureAwait(false);
                throw new InvalidOperationException($"ZBigFile {file}: WCFS serves block size {fh.BlockSize}, the object says {blockSize}");
            }
            _files.Add(fh);
            return BigFile.OverWcfs(fh, blockSize, store);
        }

        public async ValueTask DisposeAsync()
        {
            foreach (var fh in _files)
                await fh.DisposeAsync().ConfigureAwait(false);
            _files.Clear();
            await conn.DisposeAsync().ConfigureAwait(false);
        }
    }
}
