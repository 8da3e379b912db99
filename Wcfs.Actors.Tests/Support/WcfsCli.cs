using System.Diagnostics;
using System.Text;
using Xunit;

namespace Wcfs.Actors.Tests.Support;

/// <summary>What a finished `wcfs` child process did.</summary>
public sealed record CliResult(int ExitCode, byte[] Stdout, string Stderr)
{
    /// <summary>Stdout as text.</summary>
    public string Out => Encoding.UTF8.GetString(Stdout);

    /// <inheritdoc />
    public override string ToString() => $"exit {ExitCode}; stdout: {(Stdout.Length > 500 ? $"{Stdout.Length} bytes" : Out)}; stderr: {Stderr}";
}

/// <summary>Runs the real `wcfs` tool (wcfs.dll next to the tests) as a child process.</summary>
public static class WcfsCli
{
    /// <summary>
    /// The tool's assembly in the test output directory, or $WCFS_TEST_WCFS_DLL: the black-box tests
    /// (servers, CLI) then run against another build, e.g. main's, to show that a test fails without a fix.
    /// </summary>
    public static string Dll { get; } = Environment.GetEnvironmentVariable("WCFS_TEST_WCFS_DLL") is { Length: > 0 } other
        ? other : System.IO.Path.Combine(AppContext.BaseDirectory, "wcfs.dll");

    /// <summary>Starts `dotnet wcfs.dll args...` with redirected stdio; the caller owns the process.</summary>
    public static Process Start(params string[] args) => StartWith(new Dictionary<string, string>(), args);

    /// <summary>As <see cref="Start"/>, with <paramref name="env"/> added to the child's environment.</summary>
    public static Process StartWith(IReadOnlyDictionary<string, string> env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (k, v) in env)
            psi.Environment[k] = v;
        return Process.Start(psi) ?? throw new InvalidOperationException("cannot start dotnet");
    }

    /// <summary>`wcfs stop url --mountpoint mnt` (for a test's finally): unmounts a mount it left, then asserts the stop succeeded.</summary>
    public static async Task StopServerAsync(string url, string mnt)
    {
        var stop = await RunAsync("stop", url, "--mountpoint", mnt);
        if (Wcfs.Actors.Protocol.MountPoint.IsMounted(mnt))
            Wcfs.Actors.Protocol.MountPoint.Unmount(mnt);
        Assert.True(stop.ExitCode == 0, stop.ToString());
    }

    /// <summary>Runs to completion (bounded by <see cref="TestTimeouts.Default"/>), feeding <paramref name="stdin"/>.</summary>
    public static Task<CliResult> RunWithInputAsync(byte[]? stdin, params string[] args) => RunBoundedAsync(stdin, TestTimeouts.Default, args);

    /// <summary>Runs a long command (several child processes of its own) to completion, bounded by
    /// <paramref name="bound"/> (already scaled).</summary>
    public static Task<CliResult> RunLongAsync(TimeSpan bound, params string[] args) => RunBoundedAsync(null, bound, args);

    /// <summary>As <see cref="RunLongAsync"/>, with <paramref name="env"/> added to the child's environment.</summary>
    public static Task<CliResult> RunLongWithAsync(IReadOnlyDictionary<string, string> env, TimeSpan bound, params string[] args) => RunBoundedAsync(null, bound, args, env);

    private static async Task<CliResult> RunBoundedAsync(byte[]? stdin, TimeSpan bound, string[] args, IReadOnlyDictionary<string, string>? env = null)
    {
        using var p = StartWith(env ?? new Dictionary<string, string>(), args);
        try
        {
            var stdout = new MemoryStream();
            var copyOut = p.StandardOutput.BaseStream.CopyToAsync(stdout);
            var readErr = p.StandardError.ReadToEndAsync();
            if (stdin is not null)
                await p.StandardInput.BaseStream.WriteAsync(stdin);
            p.StandardInput.Close();
            using var cts = new CancellationTokenSource(bound);
            await p.WaitForExitAsync(cts.Token);
            await copyOut;
            return new CliResult(p.ExitCode, stdout.ToArray(), (await readErr).Trim());
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"wcfs {string.Join(' ', args)} did not exit within {bound}");
        }
        finally
        {
            if (!p.HasExited)
                p.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Runs with text on stdin.</summary>
    public static Task<CliResult> RunWithInputAsync(string stdin, params string[] args) => RunWithInputAsync(Encoding.UTF8.GetBytes(stdin), args);

    /// <summary>Runs with an empty stdin.</summary>
    public static Task<CliResult> RunAsync(params string[] args) => RunWithInputAsync((byte[]?)null, args);
}
