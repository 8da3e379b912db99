// PostgresCutProxy - a TCP proxy in front of the test PostgreSQL server that can break
// connections at exact protocol moments, to test what a client does when a commit's connection
// breaks: DropNextReply (the next request reaches the server, its reply never reaches the client,
// whose socket is then closed), CutAll (both sides of every connection closed now) and Refusing
// (new connections are closed as soon as they are accepted: the server looks down).
using System.Net;
using System.Net.Sockets;

namespace Wcfs.Actors.Tests.Storage;

internal sealed class PostgresCutProxy : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _upstreamHost;
    private readonly int _upstreamPort;
    private readonly List<Pair> _pairs = [];
    private readonly CancellationTokenSource _stop = new();
    private int _dropNextReply;
    private int _cut;

    public PostgresCutProxy(string upstreamHost, int upstreamPort)
    {
        _upstreamHost = upstreamHost;
        _upstreamPort = upstreamPort;
        _listener.Start();
        _ = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>While true, new connections are closed right after accept.</summary>
    public volatile bool Refusing;

    /// <summary>Client connections cut by DropNextReply so far.</summary>
    public int CutConnections => Volatile.Read(ref _cut);

    /// <summary>The next client request is forwarded; the server's reply is swallowed and the client cut.</summary>
    public void DropNextReply() => Volatile.Write(ref _dropNextReply, 1);

    /// <summary>Closes both sides of every open connection.</summary>
    public void CutAll()
    {
        lock (_pairs)
        {
            foreach (var p in _pairs)
                p.Close();
            _pairs.Clear();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        CutAll();
        _stop.Dispose();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            if (Refusing)
            {
                client.Close();
                continue;
            }
            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await server.ConnectAsync(_upstreamHost, _upstreamPort, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                client.Close();
                server.Close();
                continue;
            }
            var pair = new Pair(client, server);
            lock (_pairs)
                _pairs.Add(pair);
            _ = ClientToServer(pair);
            _ = ServerToClient(pair);
        }
    }

    private async Task ClientToServer(Pair p)
    {
        var buf = new byte[64 << 10];
        try
        {
            while (true)
            {
                var n = await p.Client.ReceiveAsync(buf, SocketFlags.None);
                if (n == 0)
                    break;
                if (Interlocked.Exchange(ref _dropNextReply, 0) == 1)
                    p.WithholdReplies = true;
                await p.Server.SendAsync(buf.AsMemory(0, n), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // a side was closed (by a cut or by the peer): the other pump ends too
        }
        if (!p.WithholdReplies)
            p.Close();
    }

    private async Task ServerToClient(Pair p)
    {
        var buf = new byte[64 << 10];
        try
        {
            while (true)
            {
                var n = await p.Server.ReceiveAsync(buf, SocketFlags.None);
                if (n == 0)
                    break;
                if (p.WithholdReplies)
                {
                    // The request was executed; its reply is lost with the client's connection.
                    // The server side stays open, like a half-dead TCP connection.
                    Interlocked.Increment(ref _cut);
                    p.Client.Close();
                    while (await p.Server.ReceiveAsync(buf, SocketFlags.None) > 0)
                    {
                    }
                    break;
                }
                await p.Client.SendAsync(buf.AsMemory(0, n), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // as above
        }
        p.Close();
    }

    private sealed class Pair(Socket client, Socket server)
    {
        public Socket Client { get; } = client;
        public Socket Server { get; } = server;
        public volatile bool WithholdReplies;

        public void Close()
        {
            Client.Close();
            Server.Close();
        }
    }
}
