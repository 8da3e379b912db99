// ClientChaosCommand - hidden `wcfs test-wcfs-client chaos`: one client process of the server-kill
// tests (issue 16 part 3). It works until stdin closes and checks what it sees itself:
//
//   test-wcfs-client chaos <mnt> <url> <blocks> <reattach-timeout> <gc:0|1> <id>
//
// Database (autostart off) -> one Connection -> the ZBigFile "f" of <blocks> 2 MiB blocks mapped
// whole (an overlay VMA over WCFS). Every commit of every client writes ONE token to ALL blocks, so
// a consistent view has all blocks equal. One round:
//   1. all blocks equal (the snapshot)                       else "violation snapshot ..."
//   2. write a new token to every block (dirty pages); hold them a few ms (across a server kill)
//   3. all blocks show the token (own dirty pages)            else "violation dirty ..."
//   4. commit: "commit <tid> <token>" then all blocks show it  else "violation committed ..."
//      or ConflictException: "conflict" (aborted; the next round starts at the latest revision)
// At the end: "done <rounds> <commits> <conflicts>" and exit 0. Any exception: one line on stderr
// (CliErrors) and exit 1. gc=1 adds a thread that forces a full GC every millisecond (with a fault
// waiting for a re-attach, that GC cannot complete until the fault returns: the re-attach is native).
using System.Text;
using Akka.Actor;
using Wcfs.Actors.Db;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Host.Cli;

internal static class ClientChaosCommand
{
    private const int Block = 2 << 20, TokenBytes = 64;

    public static async Task<int> RunAsync(ActorSystem system, Func<Task<Database>> open, long blocks, bool gc, string id)
    {
        var stop = false;
        var stdin = Task.Run(async () => { await Console.In.ReadToEndAsync(); Volatile.Write(ref stop, true); });
        var collector = gc ? new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect();
                Thread.Sleep(1); // why: a pause between forced collections, so the threads under test run (2 cores)
            }
        }) { IsBackground = true, Name = "gc-stress" } : null;
        collector?.Start();
        await using var db = await open();
        await using var c = await db.OpenConnectionAsync();
        var h = await c.Root.Get<ZBigFile>("f").OpenAsync();
        using var v = await h.MmapAsync(0, blocks * Block / h.PageSize);
        Console.WriteLine($"ready {c.At}");
        var rng = new Random();
        long rounds = 0, commits = 0, conflicts = 0;
        while (!Volatile.Read(ref stop))
        {
            var snap = Check(v, blocks, null);
            if (snap.Bad is { } bad)
                Console.WriteLine($"violation snapshot @{c.At}: {bad}");
            var token = $"{id}-{rounds}-{rng.Next():x8}";
            for (var b = 0L; b < blocks; b++)
                Write(v, b, token);
            await Task.Delay(rng.Next(0, 20)); // why: hold dirty pages for a while, so a server kill finds some
            if (Check(v, blocks, token).Bad is { } dirty)
                Console.WriteLine($"violation dirty: {dirty}");
            try
            {
                var tid = await c.CommitAsync();
                commits++;
                Console.WriteLine($"commit {tid} {token}");
                if (Check(v, blocks, token).Bad is { } after)
                    Console.WriteLine($"violation committed @{tid}: {after}");
            }
            catch (ConflictException)
            {
                conflicts++;
                Console.WriteLine("conflict");
            }
            rounds++;
        }
        Console.WriteLine($"done {rounds} {commits} {conflicts}");
        await stdin;
        return 0;
    }

    private static void Write(Vma v, long blk, string token)
    {
        var span = v.GetSpan(blk * Block, TokenBytes);
        span.Clear();
        Encoding.UTF8.GetBytes(token).CopyTo(span);
    }

    private static string Read(Vma v, long blk) => Encoding.UTF8.GetString(v.GetSpan(blk * Block, TokenBytes)).TrimEnd('\0');

    /// <summary>All blocks equal (to <paramref name="expect"/> if given); Bad says how not.</summary>
    private static (string First, string? Bad) Check(Vma v, long blocks, string? expect)
    {
        var first = Read(v, 0);
        if (expect is not null && first != expect)
            return (first, $"block 0 shows \"{first}\", expected \"{expect}\"");
        for (var b = 1L; b < blocks; b++)
        {
            var t = Read(v, b);
            if (t != first)
                return (first, $"block {b} shows \"{t}\", block 0 \"{first}\"");
        }
        return (first, null);
    }
}
