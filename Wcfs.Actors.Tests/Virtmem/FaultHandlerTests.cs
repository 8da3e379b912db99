using System.Diagnostics;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Virtmem;

/// <summary>
/// The SIGSEGV handler is chained in front of the runtime's: faults that are not ours still reach
/// the runtime (NullReferenceException in-process; a real access violation crashes a child
/// process), and unrecoverable faults on our mappings end a child with one clear line (VIRTMEM.md §6).
/// Children run the hidden `wcfs virtmem-selftest &lt;case&gt;` command.
/// </summary>
public class FaultHandlerTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private const int SigAbrtExit = 128 + 6;

    [Fact]
    public void NullReferenceException_still_works_after_the_handler_is_installed()
    {
        VirtmemErrors.Check(VirtmemNative.Init(), "virtmem init");
        for (var i = 0; i < 3; i++)
        {
            object? o = i < 100 ? null : new object();
            Assert.Throws<NullReferenceException>(() => o!.GetHashCode());
            int[]? a = null;
            Assert.Throws<NullReferenceException>(() => a![0] = 1);
        }
    }

    [Fact]
    public async Task A_write_outside_our_mappings_still_crashes_the_process_through_the_runtime()
    {
        var (exit, err) = await RunSelfTest("outside");
        Assert.Equal(SigAbrtExit, exit);
        Assert.Contains("AccessViolationException", err);
        Assert.DoesNotContain("wcfs: virtmem:", err);
    }

    [Theory]
    [InlineData("out-of-ram", "wcfs: virtmem: out of RAM for dirty pages")]
    [InlineData("unmapped", "wcfs: virtmem: access to an unmapped VMA at 0x")]
    [InlineData("closed", "wcfs: virtmem: write to a closed mapping at 0x")]
    [InlineData("read-closed", "wcfs: virtmem: read from a closed mapping at 0x")]
    public async Task An_unrecoverable_fault_ends_the_process_with_one_line_naming_the_cause_and_address(string which, string line)
    {
        var (exit, err) = await RunSelfTest(which);
        Assert.Equal(SigAbrtExit, exit);
        Assert.Contains(line, err);
        Assert.DoesNotContain("the process survived", err);
    }

    private static async Task<(int Exit, string Stderr)> RunSelfTest(string which)
    {
        var dir = AppContext.BaseDirectory;
        var host = Environment.ProcessPath is { } p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";
        var psi = new ProcessStartInfo(host) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(dir, "wcfs.dll"));
        psi.ArgumentList.Add("virtmem-selftest");
        psi.ArgumentList.Add(which);
        using var proc = Process.Start(psi)!;
        var stderr = proc.StandardError.ReadToEndAsync();
        var stdout = proc.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Timeout);
        try
        {
            await proc.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            proc.Kill();
            Assert.Fail($"wcfs virtmem-selftest {which} did not end within {Timeout}");
        }
        await stdout;
        return (proc.ExitCode, await stderr);
    }
}
