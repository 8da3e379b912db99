// ServerSecurityTests - a WCFS server is closed to other local users by default (issue 12):
// no allow_other unless configured (then the database file's owner and mode decide), a private
// mount root, no file of it opened through a symlink, `wcfs stop` never signals a stale pid, kills
// go through a pidfd (a reused pid is never hit), and a password never reaches a message or a log.
//
// "Another user" is `nobody` (uid 65534) through setpriv; the tests run as root.
using System.Diagnostics;
using System.Text;
using Wcfs.Actors.Client;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Tests.Support;
using Wcfs.Native.Interop;
using Xunit;
using static Wcfs.Actors.Tests.Server.ServerProcess;

namespace Wcfs.Actors.Tests.Server;

[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServerSecurityTests : IDisposable
{
    private const int Nobody = 65534;
    private readonly TempDirectory _dir = new("wcfs-security");
    private readonly Dictionary<int, Wcfs.Actors.Server.ProcessHandle> _sleepers = []; // taken while each sleeps: never a reused pid

    public void Dispose()
    {
        foreach (var h in _sleepers.Values)
        {
            h.Signal(Libc.SIGKILL);
            h.Dispose();
        }
        _dir.Dispose();
    }

    /// <summary>Keeps a pidfd of a sleeper just started (alive for 600 s), to kill it later.</summary>
    private void AddSleeper(int pid)
    {
        if (_sleepers.Remove(pid, out var earlier)) // an earlier sleeper with this pid was killed: its pid came round again
            earlier.Dispose();
        _sleepers[pid] = Wcfs.Actors.Server.ProcessHandle.Open(pid) ?? throw new InvalidOperationException($"sleeper {pid} is gone already");
    }

    // ---- helpers -----------------------------------------------------------------------------

    /// <summary>Runs a program as uid/gid 65534 (nobody); (exit code, stderr).</summary>
    private static async Task<(int Code, string Err)> AsNobodyAsync(params string[] command)
    {
        var psi = new ProcessStartInfo("setpriv") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "--", .. command])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        using var cts = new CancellationTokenSource(Scaled(30));
        await p.WaitForExitAsync(cts.Token);
        await stdout;
        return (p.ExitCode, await err);
    }

    private static void Chmod(string path, string mode) => Run("chmod", mode, path);

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(file, args);
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)} failed");
    }

    /// <summary>A `sleep 600` process this test owns (killed on dispose).</summary>
    private int StartSleeper()
    {
        using var p = Process.Start("sleep", "600");
        AddSleeper(p.Id);
        return p.Id;
    }

    private static bool Alive(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(") ")[1][0] is not ('Z' or 'X'); }
        catch (IOException) { return false; }
    }

    /// <summary>`wcfs serve` that is expected to refuse: its result; a mount it made anyway is removed.</summary>
    private static async Task<CliResult> ServeRefusedAsync(string mnt, string? stdin, params string[] args)
    {
        try
        {
            return await WcfsCli.RunWithInputAsync(stdin is null ? null : Encoding.UTF8.GetBytes(stdin), ["serve", .. args, "--mountpoint", mnt]);
        }
        finally
        {
            // a build without the fix may have mounted (through a symlinked root: under its target)
            var parent = Path.GetDirectoryName(mnt)!;
            var real = Path.Combine(new DirectoryInfo(parent).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? parent, Path.GetFileName(mnt));
            foreach (var m in new[] { mnt, real })
                if (MountPoint.IsMounted(m))
                    MountPoint.Unmount(m);
        }
    }

    private static void AssertOneLine(CliResult r, string expected)
    {
        Assert.True(r.ExitCode != 0, r.ToString());
        var lines = r.Stderr.Split('\n').Where(l => l.Contains(expected, StringComparison.Ordinal)).ToList();
        Assert.True(lines.Count == 1, $"expected one line with \"{expected}\": {r}");
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    // ---- who may use the mount ---------------------------------------------------------------

    [Fact]
    public async Task By_default_another_user_can_neither_read_the_mount_nor_open_a_watch_link()
    {
        await using var s = await StartAsync();
        var f = s.CreateFile();
        var t = s.Commit(f, (0, "secret data"));
        await s.WaitHeadAtAsync(t);
        Assert.Equal("secret data", ReadBlock(s.HeadPath(f), 0)); // the serving user reads
        // Let nobody reach the mountpoint through the private root (test only): the mount itself must refuse.
        Chmod(s.Dir, "0711");

        foreach (var path in new[] { Path.Combine(s.Mountpoint, "head", "at"), s.HeadPath(f), s.RevPath(t, f) })
        {
            var (code, err) = await AsNobodyAsync("cat", path);
            Assert.True(code != 0, $"nobody read {path}");
            Assert.Contains("Permission denied", err);
        }
        var (wcode, werr) = await AsNobodyAsync("sh", "-c", "exec 3<>\"$0\"", Path.Combine(s.Mountpoint, "head", "watch"));
        Assert.True(wcode != 0, "nobody opened head/watch");
        Assert.Contains("Permission denied", werr);
        Assert.Equal(0, s.Stat("WatchLink"));
    }

    [Theory]
    [InlineData("0644", true)]
    [InlineData("0640", false)]
    public async Task With_allow_other_other_users_read_exactly_what_the_database_file_lets_them(string dbMode, bool othersRead)
    {
        Oid f = default;
        await using var s = await StartAsync(server: o => o with { AllowOther = true }, prepare: p =>
        {
            f = p.CreateFile();
            p.Commit(f, (0, "shared data"));
            Chmod(p.Url["sqlite://".Length..], dbMode);
        });
        Chmod(s.Dir, "0711"); // test only: let nobody reach the mountpoint

        var (code, err) = await AsNobodyAsync("cat", s.HeadPath(f));
        Assert.True(othersRead == (code == 0), $"db {dbMode}: nobody read → exit {code} {err}");
        var (wcode, _) = await AsNobodyAsync("sh", "-c", "exec 3<>\"$0\"", Path.Combine(s.Mountpoint, "head", "watch"));
        Assert.Equal(othersRead, wcode == 0);

        // modes follow the database file: its read bits, +x on directories, +w on head/watch
        var r = Convert.ToInt32(dbMode, 8) & 0x124;
        Assert.Equal(r, (int)File.GetUnixFileMode(s.HeadPath(f)));
        Assert.Equal(r | (r >> 2), (int)File.GetUnixFileMode(Path.Combine(s.Mountpoint, "head")));
        Assert.Equal(r | (r >> 1), (int)File.GetUnixFileMode(Path.Combine(s.Mountpoint, "head", "watch")));
    }

    // ---- the mount root and its files --------------------------------------------------------

    [Theory]
    [InlineData("mode")]
    [InlineData("symlink")]
    [InlineData("owner")]
    public async Task A_mount_root_that_is_not_private_is_refused_with_one_line(string how)
    {
        var real = _dir.File("real-root");
        PrivateFiles.EnsurePrivateDirectory(real);
        var root = real;
        switch (how)
        {
            case "mode": Chmod(real, "0755"); break;
            case "owner": Run("chown", $"{Nobody}:{Nobody}", real); break;
            case "symlink":
                root = _dir.File("link-root");
                File.CreateSymbolicLink(root, real);
                break;
        }
        var r = await ServeRefusedAsync(Path.Combine(root, "mnt"), null, "sqlite://" + _dir.File("db.sqlite"));
        AssertOneLine(r, "unsafe mount root");
        Assert.False(File.Exists(Path.Combine(real, "mnt.lock")), "nothing is created in a refused root");
    }

    [Fact]
    public void A_missing_mount_root_is_created_private()
    {
        var root = Path.Combine(_dir.Path, "new", "root");
        PrivateFiles.EnsurePrivateDirectory(root);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
        PrivateFiles.CheckPrivateDirectory(root);
    }

    [Theory]
    [InlineData("lock")]
    [InlineData("pid")]
    public async Task A_symlink_planted_as_a_file_of_the_mount_root_is_refused_and_its_target_untouched(string which)
    {
        var root = _dir.File("root");
        PrivateFiles.EnsurePrivateDirectory(root);
        var victim = _dir.File("victim");
        await File.WriteAllTextAsync(victim, "precious");
        var mnt = Path.Combine(root, "mnt");
        File.CreateSymbolicLink(mnt + "." + which, victim);

        var r = await ServeRefusedAsync(mnt, null, "sqlite://" + _dir.File("db.sqlite"));
        AssertOneLine(r, "symlink");
        Assert.Equal("precious", await File.ReadAllTextAsync(victim));
    }

    [Fact]
    public async Task An_autostarted_server_gets_a_private_root_and_a_private_log()
    {
        var root = Path.Combine(_dir.Path, "autostart-root");
        var url = "sqlite://" + _dir.File("auto.sqlite");
        using (StorageFactory.Open(url)) { }
        var settings = WcfsSettings.FromHocon($"wcfs.mount-root = \"{root}\"");
        var mnt = MountPoint.For(url, root);
        try
        {
            Assert.Equal(mnt, await WcfsServer.EnsureRunningAsync(url, settings, Scaled(30)));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(root));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(mnt + ".log"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(mnt + ".pid"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(mnt + ".lock"));
        }
        finally
        {
            await WcfsCli.StopServerAsync(url, mnt);
        }
    }

    // ---- stop and kill hit only the right process --------------------------------------------

    [Fact]
    public async Task Stop_does_not_signal_a_process_that_a_stale_pid_file_names()
    {
        var root = _dir.File("root");
        PrivateFiles.EnsurePrivateDirectory(root);
        var mnt = Path.Combine(root, "mnt");
        var innocent = StartSleeper();
        await using (var pid = PrivateFiles.OpenPrivate(MountPoint.PidPath(mnt), truncate: true))
            await pid.WriteAsync(Encoding.ASCII.GetBytes(innocent + "\n"));

        var r = await WcfsCli.RunAsync("stop", "sqlite://" + _dir.File("db.sqlite"), "--mountpoint", mnt);
        Assert.True(r.ExitCode != 0, r.ToString());
        Assert.Contains($"process {innocent} is not the server of {mnt}", r.Stderr);
        Assert.True(Alive(innocent), $"wcfs stop signalled the unrelated process {innocent}: {r}");
    }

    [Fact]
    public async Task A_client_whose_pid_was_reused_is_not_killed_in_its_place()
    {
        // The opener A of a link hands the link to a child B and exits; B never answers pins. A's
        // pid is then given to an innocent process C (ns_last_pid). When a pin to the link times
        // out, the server kills "the opener": through its pidfd that is A (gone), never C.
        await using var s = await StartAsync(pinTimeout: "3s");
        var f = s.CreateFile();
        var t1 = s.Commit(f, (0, "old"));
        var t2 = s.Commit(f, (0, "new"));
        await s.WaitHeadAtAsync(t2);
        File.GetUnixFileMode(s.HeadPath(f)); // lookup: the watch needs a known file

        var watch = Path.Combine(s.Mountpoint, "head", "watch");
        var opener = Process.Start(new ProcessStartInfo("sh", ["-c",
            "exec 3<>\"$0\"; printf '1 watch %s @%s\\n' \"$1\" \"$2\" >&3; sleep 600 </dev/null >/dev/null 2>&1 & echo $!",
            watch, f.ToString(), t1.ToString()]) { RedirectStandardOutput = true })!;
        var holder = int.Parse((await opener.StandardOutput.ReadToEndAsync()).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        AddSleeper(holder);
        await opener.WaitForExitAsync();
        var a = opener.Id;
        opener.Dispose();

        var innocent = 0;
        for (var attempt = 0; attempt < 200 && innocent != a; attempt++)
        {
            if (innocent != 0)
                _sleepers[innocent].Signal(Libc.SIGKILL);
            using var spawn = Process.Start(new ProcessStartInfo("sh", ["-c",
                "echo $(($0 - 1)) > /proc/sys/kernel/ns_last_pid; sleep 600 </dev/null >/dev/null 2>&1 & echo $!", a.ToString(System.Globalization.CultureInfo.InvariantCulture)])
            { RedirectStandardOutput = true })!;
            innocent = int.Parse((await spawn.StandardOutput.ReadToEndAsync()).Trim(), System.Globalization.CultureInfo.InvariantCulture);
            AddSleeper(innocent);
            await spawn.WaitForExitAsync();
        }
        Assert.True(innocent == a, $"could not give pid {a} to another process in 200 attempts");

        // the read sends a pin to the link; nobody answers; after the timeout the link is killed
        Assert.Equal("new", await ReadBlockAsync(s.HeadPath(f), 0).WaitAsync(Scaled(30)));
        Assert.True(Alive(innocent), $"the server killed pid {a}, now an unrelated process:\n{s.Log}");
        Assert.Equal(0, s.Stat("pinkill"));
    }

    [Fact]
    public async Task A_child_is_signalled_through_a_pidfd_and_not_at_all_once_it_has_exited()
    {
        using var child = Process.Start("sleep", "600");
        Assert.True(Wcfs.Actors.Server.ProcessHandle.SignalChild(child, Libc.SIGTERM));
        await child.WaitForExitAsync().WaitAsync(Scaled(10));
        Assert.Equal(128 + Libc.SIGTERM, child.ExitCode); // the sleeper died of our SIGTERM
        // its pid may belong to anyone now: nothing is sent, and no handle is given out
        Assert.False(Wcfs.Actors.Server.ProcessHandle.SignalChild(child, Libc.SIGTERM));
        Assert.Null(Wcfs.Actors.Server.ProcessHandle.OfChild(child));
    }

    // ---- secrets -----------------------------------------------------------------------------

    [Fact]
    public void The_url_formatter_redacts_every_form_of_password()
    {
        Assert.Equal("postgresql://u:***@h:5432/db", UrlRedaction.Redact("postgresql://u:secret@h:5432/db"));
        Assert.Equal("postgresql://u:***@h/db", UrlRedaction.Redact("postgresql://u:p@ss/w:rd@h/db"));
        Assert.Equal("postgresql://u@h/db", UrlRedaction.Redact("postgresql://u@h/db"));
        Assert.Equal("postgresql://h/db?password=***&sslmode=require", UrlRedaction.Redact("postgresql://h/db?password=secret&sslmode=require"));
        Assert.Equal("sqlite:///tmp/x.db", UrlRedaction.Redact("sqlite:///tmp/x.db"));
    }

    [Theory]
    [InlineData("", "--config -: stdin gave no settings")]
    [InlineData("wcfs.storage = \"postgresql://u:Sup3rSecret@127.0.0.1:1/db\"\nwcfs.server.pin-timeout = ${nope}\n", "--config -: stdin is not valid HOCON")]
    public async Task Settings_on_stdin_that_are_missing_or_not_hocon_are_refused_in_one_line_that_never_quotes_them(string stdin, string expected)
    {
        var root = _dir.File("root");
        PrivateFiles.EnsurePrivateDirectory(root);
        var r = await ServeRefusedAsync(Path.Combine(root, "mnt"), stdin, "--config", "-");
        AssertOneLine(r, expected);
        Assert.Equal(WcfsCommandLineExitUsage, r.ExitCode);
        Assert.DoesNotContain("Sup3rSecret", r.Stderr + r.Out);
    }

    [Fact]
    public async Task Url_from_stdin_and_config_from_stdin_together_are_refused_before_reading_either()
    {
        var root = _dir.File("root");
        PrivateFiles.EnsurePrivateDirectory(root);
        var r = await ServeRefusedAsync(Path.Combine(root, "mnt"), "sqlite:///x.db\n", "--url-from-stdin", "--config", "-");
        AssertOneLine(r, "--url-from-stdin and --config - both read stdin");
        Assert.Equal(WcfsCommandLineExitUsage, r.ExitCode);
    }

    private const int WcfsCommandLineExitUsage = 2;

    [Theory]
    [InlineData("argument")]
    [InlineData("url-from-stdin")]
    [InlineData("config-from-stdin")] // how the library's launcher starts a detached server
    public async Task A_password_never_reaches_the_servers_messages_and_can_come_from_stdin(string how)
    {
        var root = _dir.File("root");
        PrivateFiles.EnsurePrivateDirectory(root);
        var mnt = Path.Combine(root, "mnt");
        await using var held = PrivateFiles.OpenPrivate(MountPoint.LockPath(mnt));
        Assert.True(PrivateFiles.TryLock(held));
        const string url = "postgresql://wcfsuser:Sup3rSecret@127.0.0.1:1/db";

        var r = how switch
        {
            "url-from-stdin" => await ServeRefusedAsync(mnt, url + "\n", "--url-from-stdin"),
            "config-from-stdin" => await ServeRefusedAsync(mnt, $"wcfs.storage = \"{url}\"\nwcfs.server.pin-timeout = 20s\n", "--config", "-"),
            _ => await ServeRefusedAsync(mnt, null, url),
        };
        AssertOneLine(r, "another wcfs server for postgresql://wcfsuser:***@127.0.0.1:1/db");
        Assert.DoesNotContain("Sup3rSecret", r.Stderr + r.Out);
    }
}
