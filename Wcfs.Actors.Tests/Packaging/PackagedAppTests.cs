// PackagedAppTests - the README's "Use it in your app" steps, run as a new user would, outside the
// repository: `dotnet pack` into a folder feed, a console app (Packaging/App) that adds the
// Wcfs.Actors package, the `wcfs` .NET tool installed with --tool-path and put on PATH (no
// WCFS_EXE), then: the app opens a Database (the server is autostarted from PATH), writes through
// a ZBigArray view and commits; a second process maps the file through WCFS as of that revision and
// checks the data. The server it started is stopped with the installed tool in finally.
//
// Restore: the temp dir gets its own nuget.config (the feed, the machine's package cache as a local
// source, nuget.org) and its own NUGET_PACKAGES, so neither the user's package cache nor the tool
// store is touched by the test's packages.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Packaging;

public sealed class PackagedAppTests(ITestOutputHelper output)
{
    private const string Version = "0.1.0";

    [Fact]
    public async Task A_console_app_outside_the_repo_uses_the_packages_and_the_tool_and_a_second_process_reads_its_commit_through_wcfs()
    {
        var repo = RepoRoot();
        using var dir = new TempDirectory("wcfs-pkgapp");
        var feed = dir.File("feed");
        var app = dir.File("app");
        var tools = dir.File("tools");
        var data = dir.File("data");
        Directory.CreateDirectory(app);
        Directory.CreateDirectory(data);
        File.WriteAllText(dir.File("nuget.config"), NugetConfig(feed));
        foreach (var f in new[] { "Program.cs", "app.csproj" })
            File.Copy(Path.Combine(AppContext.BaseDirectory, "Packaging", "App", f), Path.Combine(app, f));
        var env = new Dictionary<string, string?>
        {
            ["NUGET_PACKAGES"] = dir.File("packages"),
            ["WCFS_EXE"] = null,
            ["PATH"] = tools + ":" + Environment.GetEnvironmentVariable("PATH"),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
            ["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1",
        };
        var url = "sqlite://" + Path.Combine(data, "app.db");
        var stopConfig = dir.File("stop.conf");
        File.WriteAllText(stopConfig, $"wcfs.mount-root = \"{Path.Combine(data, "mnt")}\"\n");
        var mnt = MountPoint.For(url, Path.Combine(data, "mnt"));
        try
        {
            // the README's steps
            await RunAsync(repo, env, 5, "dotnet", "pack", "wcfs-actors.sln", "-c", "Release", "--no-build", "-o", feed, "-nologo", "-v:q");
            Assert.True(File.Exists(Path.Combine(feed, $"Wcfs.Actors.{Version}.nupkg")), "no Wcfs.Actors package in the feed");
            await RunAsync(app, env, 5, "dotnet", "add", "package", "Wcfs.Actors", "--version", Version);
            await RunAsync(dir.Path, env, 5, "dotnet", "tool", "install", "wcfs", "--tool-path", tools, "--version", Version);
            await RunAsync(app, env, 5, "dotnet", "build", "-c", "Release", "-nologo", "-v:q", "-o", Path.Combine(app, "out"));

            var appDll = Path.Combine(app, "out", "app.dll");
            var written = Line(await RunAsync(app, env, 3, "dotnet", appDll, "write", data), "written ").Split(' ');
            Assert.Equal(2, written.Length);
            Assert.True(MountPoint.IsMounted(mnt), $"the app did not autostart a server at {mnt}");
            var pid = MountPoint.ServerPid(mnt);
            Assert.NotNull(pid);
            Assert.StartsWith(tools, ServerExecutable(pid.Value), StringComparison.Ordinal); // the tool from PATH serves

            var sum = Line(await RunAsync(app, env, 3, "dotnet", appDll, "read", data, written[0], written[1]), "sum ");
            Assert.Equal((1.5 * 1023 * 1024 / 2).ToString(System.Globalization.CultureInfo.InvariantCulture), sum);
        }
        finally
        {
            if (File.Exists(Path.Combine(tools, "wcfs")) && MountPoint.IsMounted(mnt))
                output.WriteLine(await RunAsync(dir.Path, env, 2, Path.Combine(tools, "wcfs"), "stop", url, "--config", stopConfig));
            if (MountPoint.IsMounted(mnt))
                MountPoint.Unmount(mnt);
        }
    }

    /// <summary>The rest of the first line of <paramref name="stdout"/> that starts with <paramref name="prefix"/>.</summary>
    private static string Line(string stdout, string prefix) =>
        stdout.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..].Trim()
        ?? throw new Xunit.Sdk.XunitException($"no line \"{prefix}...\" in:\n{stdout}");

    /// <summary>The executable behind a server pid (the tool's apphost or the dotnet host running it).</summary>
    private static string ServerExecutable(int pid)
    {
        var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        return cmdline.FirstOrDefault(a => a.Contains("wcfs", StringComparison.Ordinal)) ?? string.Join(' ', cmdline);
    }

    private static string NugetConfig(string feed)
    {
        var cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var sb = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<configuration>\n  <packageSources>\n    <clear />\n");
        sb.Append($"    <add key=\"wcfs-feed\" value=\"{feed}\" />\n");
        if (Directory.Exists(cache))
            sb.Append($"    <add key=\"machine-cache\" value=\"{cache}\" />\n");
        sb.Append("    <add key=\"nuget.org\" value=\"https://api.nuget.org/v3/index.json\" />\n  </packageSources>\n</configuration>\n");
        return sb.ToString();
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "wcfs-actors.sln")))
                return d.FullName;
        }
        throw new InvalidOperationException($"no wcfs-actors.sln above {AppContext.BaseDirectory}");
    }

    /// <summary>Runs a command to completion within <paramref name="minutes"/> (scaled); returns stdout, fails with both outputs.</summary>
    private async Task<string> RunAsync(string cwd, Dictionary<string, string?> env, double minutes, string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        foreach (var (k, v) in env)
        {
            if (v is null)
                psi.Environment.Remove(k);
            else
                psi.Environment[k] = v;
        }
        var what = $"{file} {string.Join(' ', args)}";
        var sw = Stopwatch.StartNew();
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {what}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        try
        {
            using var cts = new CancellationTokenSource(TestTimeouts.Scale(TimeSpan.FromMinutes(minutes)));
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"`{what}` did not finish within {minutes} min");
        }
        var (o, e) = (await stdout, await stderr);
        output.WriteLine($"{what}: exit {p.ExitCode} in {sw.Elapsed.TotalSeconds:0.0}s");
        Assert.True(p.ExitCode == 0, $"`{what}` exited with {p.ExitCode}:\n{o}\n{e}");
        return o;
    }
}
