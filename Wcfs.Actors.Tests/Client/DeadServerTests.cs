// A dead WCFS server is named (issue 16 part 1): a client process whose server was SIGKILLed touches
// a page of its mapping that is not in the page cache (a read, and a write fault that copies the base
// page) and ends with exactly one line naming the mount, the file, the block and "the WCFS server is
// gone" - never the runtime's "memory is corrupt" (AccessViolationException, exit 134 without our
// line) nor a silent SIGBUS (exit 135). The client runs `wcfs test-wcfs-client touch` (real process,
// real mount, real page faults).
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Wcfs.Actors.Db;
using Wcfs.Actors.Tests.Db;
using Wcfs.Actors.Tests.Server;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Client;

public sealed partial class DeadServerTests(ITestOutputHelper output) : WcfsDbTestBase
{
    private const int SigAbrtExit = 128 + 6;

    [Theory]
    [InlineData("read")]
    [InlineData("write")]
    public async Task Touching_an_unloaded_page_after_the_server_died_ends_the_client_with_one_line_naming_mount_file_and_block(string mode)
    {
        var oid = await CreateFileAsync(16, (0, "b0"), (15, "b15"));
        using var child = StartTouch(16, 10, mode);
        try
        {
            Assert.Equal("ready b0", await child.StandardOutput.ReadLineAsync().WaitAsync(ServerProcess.Scaled(60)));
            await Server.KillHardAsync();
            await child.StandardInput.WriteLineAsync("go");
            await child.StandardInput.FlushAsync();
            var stdout = child.StandardOutput.ReadToEndAsync();
            var stderr = child.StandardError.ReadToEndAsync();
            await child.WaitForExitAsync().WaitAsync(ServerProcess.Scaled(60));
            var err = await stderr;
            output.WriteLine($"exit {child.ExitCode}; stderr:\n{err}");
            var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(child.ExitCode == SigAbrtExit, $"exit {child.ExitCode}, stderr:\n{err}");
            var expected = $"wcfs: client: {Server.Mountpoint}: file {oid} block 10: the WCFS server is gone; access at 0x";
            Assert.True(lines.Length > 0 && lines[^1].StartsWith(expected, StringComparison.Ordinal) && AddressTail().IsMatch(lines[^1][expected.Length..]),
                $"last stderr line is not \"{expected}<16 hex>\":\n{err}");
            Assert.Single(lines, l => l.Contains("wcfs: client:", StringComparison.Ordinal));
            Assert.DoesNotContain("AccessViolationException", err, StringComparison.Ordinal);
            Assert.DoesNotContain("corrupt", err, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", err, StringComparison.Ordinal); // no stack trace anywhere
            Assert.Equal("", (await stdout).Trim()); // nothing but our own "ready": no log lines on stdout
        }
        finally
        {
            if (!child.HasExited)
                child.Kill(); // our own child
        }
    }

    [GeneratedRegex("^[0-9a-f]{16}$")]
    private static partial Regex AddressTail();

    /// <summary>A committed ZBigFile "f" of <paramref name="blocks"/> 2 MiB blocks with the given texts; the
    /// test's own database is closed again (the test process keeps no mapping of the server).</summary>
    private async Task<Wcfs.Actors.Storage.Oid> CreateFileAsync(long blocks, params (long Blk, string Text)[] data)
    {
        var db = await OpenDatabaseAsync();
        var c = await db.OpenConnectionAsync();
        c.Root["f"] = ZBigFile.Create(c, Block);
        await c.CommitAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using (var v = await h.MmapAsync(0, blocks * Block / h.PageSize))
            foreach (var (blk, text) in data)
                Encoding.UTF8.GetBytes(text).CopyTo(v.GetSpan(blk * Block, Block));
        await c.CommitAsync();
        var oid = c.Root.Get<ZBigFile>("f").Oid;
        await c.DisposeAsync();
        await db.DisposeAsync();
        Dbs.Remove(db);
        return oid;
    }

    private Process StartTouch(long blocks, long blk, string mode)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { ServerProcess.WcfsDll, "test-wcfs-client", "touch", Server.Mountpoint, Server.Url, blocks.ToString(System.Globalization.CultureInfo.InvariantCulture), blk.ToString(System.Globalization.CultureInfo.InvariantCulture), mode })
            psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
    }
}
