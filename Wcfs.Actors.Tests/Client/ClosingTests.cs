// Closing (ARCHITECTURE.md §7, issue 5 "Closing"): a closed FileH or Conn makes its mappings fault
// with one clear line, while other files' mappings keep working. An access that ends the process
// runs in a child process (`wcfs test-wcfs-client close-and-read`).
using System.Diagnostics;
using Wcfs.Actors.Tests.Server;
using Xunit;
using static Wcfs.Actors.Tests.Client.ClientWorld;

namespace Wcfs.Actors.Tests.Client;

public class ClosingTests
{
    private const string ClosedMessage = "wcfs: client: access to a WCFS mapping whose FileH or Conn was closed";

    private static async Task<(int Exit, string Out, string Err)> RunChildAsync(ClientWorld w, string args)
    {
        var psi = new ProcessStartInfo("dotnet", $"{ServerProcess.WcfsDll} test-wcfs-client {args}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["DOTNET_DbgEnableMiniDump"] = "0";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(ServerProcess.Scaled(60));
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill();
            throw new TimeoutException($"client child did not exit within 60s:\n{await stdout}\n{await stderr}\n{w.Server.Log}");
        }
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task Closing_one_file_faults_only_its_mappings()
    {
        await using var w = await StartAsync();
        var a = w.Server.CreateFile();
        var b = w.Server.CreateFile();
        await w.CommitAsync(a, (0, "a1"));
        var at = await w.CommitAsync(b, (0, "b1"));
        var (exit, stdout, stderr) = await RunChildAsync(w, $"close-and-read {w.Server.Mountpoint} {w.Server.Url} {at} {a} {b} file");
        Assert.Equal("A a1\nB b1\nclosed\nB b1\n", stdout);
        Assert.NotEqual(0, exit);
        Assert.Contains(ClosedMessage, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Closing_the_conn_faults_every_mapping()
    {
        await using var w = await StartAsync();
        var a = w.Server.CreateFile();
        var b = w.Server.CreateFile();
        await w.CommitAsync(a, (0, "a1"));
        var at = await w.CommitAsync(b, (0, "b1"));
        var (exit, stdout, stderr) = await RunChildAsync(w, $"close-and-read {w.Server.Mountpoint} {w.Server.Url} {at} {a} {b} conn");
        Assert.Equal("A a1\nB b1\nclosed\n", stdout);
        Assert.NotEqual(0, exit);
        Assert.Contains(ClosedMessage, stderr, StringComparison.Ordinal);
        Assert.Equal(0, w.Server.Stat("Watch"));
    }

    [Fact]
    public async Task A_mapping_of_a_closed_file_can_still_be_disposed()
    {
        await using var w = await StartAsync();
        var f = w.Server.CreateFile();
        var at = await w.CommitAsync(f, (0, "a1"));
        var conn = await w.Client.ConnectAsync(at);
        var fh = await conn.OpenAsync(f);
        var m = await fh.MmapAsync(0, 1);
        Assert.Equal("a1", Text(m, 0));
        await conn.DisposeAsync();
        Assert.Throws<ObjectDisposedException>(() => m.RemmapBlk(0));
        m.Dispose();
        m.Dispose();
        await fh.DisposeAsync(); // after its conn closed: nothing left to do
        Assert.Equal(0, w.Server.Stat("Watch"));
    }
}
