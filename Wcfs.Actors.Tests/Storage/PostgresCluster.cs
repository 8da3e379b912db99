// PostgresCluster - a throw-away PostgreSQL cluster on loopback owned by a test (the way
// scripts/postgres.sh makes one): initdb as the postgres user (initdb refuses root), trust auth
// except for one password-checked role, fsync off, a free port, its own socket directory.
// It can be stopped and started again (restart tests) and is deleted on Dispose.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Wcfs.Actors.Tests.Storage;

internal sealed class PostgresCluster : IDisposable
{
    /// <summary>A role whose password the server checks (scram-sha-256 over TCP).</summary>
    public const string PasswordUser = "wcfs_pw_user", Password = "s3cret-Pw";

    private readonly string _bindir, _dir;
    private bool _running;

    private PostgresCluster(string bindir, string dir, int port)
    {
        _bindir = bindir;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    /// <summary>postgresql://postgres@127.0.0.1:port/<paramref name="db"/> (trust auth).</summary>
    public string Url(string db) => $"postgresql://postgres@127.0.0.1:{Port}/{db}";

    public static PostgresCluster Start()
    {
        var bindir = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb"))).OrderBy(d => d, StringComparer.Ordinal).LastOrDefault()
            : null;
        if (bindir is null)
            throw new InvalidOperationException("PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql); the PostgreSQL tests need a real server");
        var dir = Directory.CreateTempSubdirectory("wcfs-pg-test-").FullName;
        var c = new PostgresCluster(bindir, dir, FreePort());
        try
        {
            if (Environment.UserName == "root")
                Run("chown", "postgres", dir);
            c.Pg("initdb", "-D", c.Data, "-U", "postgres", "--auth=trust", "-E", "UTF8");
            var hba = Path.Combine(c.Data, "pg_hba.conf");
            File.WriteAllText(hba, $"host all {PasswordUser} 127.0.0.1/32 scram-sha-256\n" + File.ReadAllText(hba));
            c.StartServer();
            PostgresFixture.Execute(c.Url("postgres"), $"CREATE ROLE {PasswordUser} LOGIN SUPERUSER PASSWORD '{Password}'");
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private string Data => Path.Combine(_dir, "data");

    /// <summary>Starts the (stopped) server on the same port.</summary>
    public void StartServer()
    {
        Pg("pg_ctl", "-D", Data, "-l", Path.Combine(_dir, "log"), "-w", "-t", "60",
            "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {_dir} -c fsync=off", "start");
        _running = true;
    }

    /// <summary>Stops the server (fast shutdown: sessions are terminated, like a real restart).</summary>
    public void StopServer()
    {
        Pg("pg_ctl", "-D", Data, "-m", "fast", "-w", "-t", "60", "stop");
        _running = false;
    }

    public void Dispose()
    {
        if (_running)
        {
            try { Pg("pg_ctl", "-D", Data, "-m", "immediate", "-w", "stop"); }
            catch (InvalidOperationException) { /* already gone: nothing to stop */ }
        }
        try { Directory.Delete(_dir, recursive: true); }
        catch (IOException) { /* a file still held: the temp dir is reclaimed by the OS */ }
    }

    private void Pg(string tool, params string[] args)
    {
        var exe = Path.Combine(_bindir, tool);
        if (Environment.UserName == "root")
            Run("runuser", ["-u", "postgres", "--", exe, .. args]);
        else
            Run(exe, args);
    }

    private static void Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} did not finish in 120s");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{exe} {string.Join(' ', args)} exited {p.ExitCode}: {stderr.Result}{stdout.Result}");
    }

    public static int FreePort()
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }
}
