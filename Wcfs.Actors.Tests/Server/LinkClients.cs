// LinkClients - raw watch-link clients for the server's tests: one in the test process (its reads
// of the link are read() syscalls, never page faults: ARCHITECTURE.md fact 1), and one in a child
// process (`wcfs test-client link`) for clients the server may kill.
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Tests.Server;

internal abstract class LinkClient : IAsyncDisposable
{
    protected readonly Channel<string> Frames = Channel.CreateUnbounded<string>();

    /// <summary>Writes one frame (text without '\n').</summary>
    public abstract void Send(string frame);

    /// <summary>The next frame from the server ("EOF" after the link closed).</summary>
    public async Task<string> NextAsync(double seconds = 10)
    {
        using var cts = new CancellationTokenSource(ServerProcess.Scaled(seconds));
        try
        {
            return await Frames.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no frame from the server within {seconds}s");
        }
    }

    /// <summary>True if no frame arrives within <paramref name="seconds"/>.</summary>
    public async Task<bool> QuietAsync(double seconds)
    {
        using var cts = new CancellationTokenSource(ServerProcess.Scaled(seconds));
        try
        {
            await Frames.Reader.WaitToReadAsync(cts.Token);
            return false;
        }
        catch (OperationCanceledException)
        {
            return true;
        }
    }

    public async Task ExpectAsync(string frame, double seconds = 10) => Xunit.Assert.Equal(frame, await NextAsync(seconds));

    /// <summary>"watch F @at" on stream, acking every pin; returns the pins received (blk → "@rev").</summary>
    public async Task<SortedDictionary<long, string>> WatchAsync(ulong stream, Oid file, Tid at, bool ack = true)
    {
        Send($"{stream} watch {file} @{at}");
        return await CollectPinsUntilAsync($"{stream} ", ack);
    }

    /// <summary>Receives pins (acking them) until a frame starting with <paramref name="replyPrefix"/>; asserts it is "ok".</summary>
    public async Task<SortedDictionary<long, string>> CollectPinsUntilAsync(string replyPrefix, bool ack = true)
    {
        var pins = new SortedDictionary<long, string>();
        while (true)
        {
            var f = await NextAsync();
            if (f.StartsWith(replyPrefix, StringComparison.Ordinal))
            {
                Xunit.Assert.Equal(replyPrefix + "ok", f);
                return pins;
            }
            var (stream, blk, rev) = ParsePin(f);
            Xunit.Assert.False(pins.ContainsKey(blk), $"block {blk} pinned twice: {f}");
            pins[blk] = rev;
            if (ack)
                Send($"{stream} ack");
        }
    }

    public static (ulong Stream, long Blk, string Rev) ParsePin(string frame)
    {
        var a = frame.Split(' ');
        if (a.Length != 5 || a[1] != "pin")
            throw new Xunit.Sdk.XunitException($"expected a pin, got \"{frame}\"");
        return (ulong.Parse(a[0], System.Globalization.CultureInfo.InvariantCulture), long.Parse(a[3][1..], System.Globalization.CultureInfo.InvariantCulture), a[4]);
    }

    public abstract ValueTask DisposeAsync();
}

/// <summary>A link opened by the test process itself.</summary>
internal sealed class RawLink : LinkClient
{
    private readonly FileStream _fs;
    private readonly Thread _reader;

    public RawLink(string mountpoint)
    {
        _fs = new FileStream(Path.Combine(mountpoint, "head", "watch"), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0);
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "test-link-reader" };
        _reader.Start();
    }

    private void ReadLoop()
    {
        var buf = new byte[4096];
        var line = new StringBuilder();
        try
        {
            while (true)
            {
                var n = _fs.Read(buf);
                if (n == 0)
                    break;
                foreach (var ch in Encoding.UTF8.GetString(buf, 0, n))
                {
                    if (ch == '\n') { Frames.Writer.TryWrite(line.ToString()); line.Clear(); }
                    else line.Append(ch);
                }
            }
            Frames.Writer.TryWrite("EOF");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            Frames.Writer.TryWrite("ERROR " + e.Message);
        }
    }

    public override void Send(string frame) => SendRaw(frame + "\n");

    public void SendRaw(string text) => _fs.Write(Encoding.UTF8.GetBytes(text));

    public override ValueTask DisposeAsync()
    {
        // Closing the link while a reader thread waits in read(): the server answers it with EOF.
        try { Send("999 bye"); } catch (IOException) { }
        _reader.Join(ServerProcess.Scaled(10));
        _fs.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A link in a child process (`wcfs test-client link`), which the server may kill.</summary>
internal sealed class ChildLink : LinkClient
{
    private readonly Process _p;
    private readonly Channel<string> _other = Channel.CreateUnbounded<string>();

    private ChildLink(Process p) => _p = p;

    public int Pid => _p.Id;
    public Process Process => _p;

    public static async Task<ChildLink> StartAsync(string mountpoint, bool noRead = false)
    {
        var psi = new ProcessStartInfo("dotnet", $"{ServerProcess.WcfsDll} test-client link {mountpoint}" + (noRead ? " --no-read" : ""))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start test-client");
        var c = new ChildLink(p);
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            if (e.Data.StartsWith("< ", StringComparison.Ordinal)) c.Frames.Writer.TryWrite(e.Data[2..]);
            else c._other.Writer.TryWrite(e.Data);
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) c._other.Writer.TryWrite("stderr: " + e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var first = await c.OtherAsync();
        Xunit.Assert.StartsWith("pid ", first);
        return c;
    }

    /// <summary>The next non-frame output line of the child (e.g. "read ...").</summary>
    public async Task<string> OtherAsync(double seconds = 20)
    {
        using var cts = new CancellationTokenSource(ServerProcess.Scaled(seconds));
        try { return await _other.Reader.ReadAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"no output from test-client within {seconds}s"); }
    }

    public override void Send(string frame)
    {
        _p.StandardInput.WriteLine(frame);
        _p.StandardInput.Flush();
    }

    /// <summary>Waits for the child to exit; returns true if it was killed by a signal (exit code 128+n).</summary>
    public async Task<int> ExitCodeAsync(double seconds = 15)
    {
        using var cts = new CancellationTokenSource(ServerProcess.Scaled(seconds));
        await _p.WaitForExitAsync(cts.Token);
        return _p.ExitCode;
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_p.HasExited)
        {
            _p.Kill();
            await _p.WaitForExitAsync().WaitAsync(ServerProcess.Scaled(15)); // SIGKILL: bounded all the same
        }
        _p.Dispose();
    }
}
