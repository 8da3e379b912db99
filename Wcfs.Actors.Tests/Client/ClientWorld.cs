// ClientWorld - the test language of the WCFS client tests: a real `wcfs serve` child process
// (ServerProcess), a WcfsClient of the test process joined to it, and helpers that speak the
// domain: "commit {0: a1} -> at1", "read block 0 through the mapping", "expect pinned {0: at1}".
using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Server;
using Xunit;

namespace Wcfs.Actors.Tests.Client;

internal sealed class ClientWorld : IAsyncDisposable
{
    private ClientWorld(ServerProcess server, WcfsClient client)
    {
        Server = server;
        Client = client;
    }

    public ServerProcess Server { get; }
    public WcfsClient Client { get; }

    public static async Task<ClientWorld> StartAsync(string pinTimeout = "10s", TimeSpan? reattach = null)
    {
        var s = await ServerProcess.StartAsync(pinTimeout);
        try
        {
            var c = await WcfsClient.JoinAsync(s.Url, new WcfsClientOptions { Mountpoint = s.Mountpoint, Autostart = false, ReattachTimeout = reattach });
            return new ClientWorld(s, c);
        }
        catch
        {
            await s.DisposeAsync();
            throw;
        }
    }

    /// <summary>"commit {blk: text}" and wait until head/at shows it.</summary>
    public async Task<Tid> CommitAsync(Oid file, params (long Blk, string? Data)[] blocks)
    {
        var at = Server.Commit(file, blocks);
        await Server.WaitHeadAtAsync(at);
        return at;
    }

    /// <summary>The text of block <paramref name="blk"/> as the mapping shows it (a page fault in this process).</summary>
    public static string Text(Mapping m, long blk) => Encoding.UTF8.GetString(m.Block(blk)).TrimEnd('\0');

    /// <summary>"expect pinned {blk: rev}".</summary>
    public static void ExpectPinned(FileH f, params (long Blk, Tid Rev)[] expected) =>
        Assert.Equal(
            string.Join(", ", expected.OrderBy(e => e.Blk).Select(e => $"{e.Blk}:@{e.Rev}")),
            string.Join(", ", f.Pinned.OrderBy(p => p.Key.Value).Select(p => $"{p.Key}:@{p.Value}")));

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Client.DisposeAsync();
        }
        finally
        {
            await Server.DisposeAsync();
        }
    }
}
