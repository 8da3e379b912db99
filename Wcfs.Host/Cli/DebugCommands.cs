// DebugCommands - hidden `wcfs debug ...` commands used by tests to act as a second process:
//   debug changes <url> --after TID --count N   print "<tid> <received-unix-ns>" per change record
//   debug commit-loop <url> <oid> [--blocks N] [--size BYTES]
//                                               commit forever; commit i writes blocks 0..N-1 with
//                                               the 8-byte little-endian i repeated; prints each tid
//                                               after Commit returned (so it must survive a kill)
// Not listed in --help (Hidden).
using System.Buffers.Binary;
using System.CommandLine;
using System.Globalization;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static class DebugCommands
{
    public static Command Create()
    {
        var debug = new Command("debug", "test helpers") { Hidden = true };
        debug.Subcommands.Add(ChangesCommand());
        debug.Subcommands.Add(CommitLoopCommand());
        return debug;
    }

    private static Command ChangesCommand()
    {
        var url = new Argument<string>("url");
        var after = new Option<string>("--after") { Required = true };
        var count = new Option<int>("--count") { Required = true };
        var timeout = new Option<string>("--timeout") { DefaultValueFactory = _ => "60s" };
        var cmd = new Command("changes") { url, after, count, timeout };
        cmd.SetAction((r, ct) => CliErrors.RunAsync(async () =>
        {
            var from = StorageArguments.ParseTid(r.GetValue(after)!);
            var limit = Actors.Configuration.DurationText.TryParse(r.GetValue(timeout), out var d) ? d : throw new UsageException("invalid --timeout");
            using var s = StorageFactory.OpenExisting(r.GetValue(url)!);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
            cts.CancelAfter(limit);
            var n = 0;
            try
            {
                await foreach (var c in s.Changes(from, cts.Token))
                {
                    var now = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
                    Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{c.Tid} {now}"));
                    Console.Out.Flush();
                    if (++n == r.GetValue(count))
                        break;
                }
            }
            catch (OperationCanceledException)
            {
                throw new CommandException($"timed out after {n} change records");
            }
            return 0;
        }));
        return cmd;
    }

    private static Command CommitLoopCommand()
    {
        var url = new Argument<string>("url");
        var oid = new Argument<string>("oid");
        var blocks = new Option<int>("--blocks") { DefaultValueFactory = _ => 4 };
        var size = new Option<int>("--size") { DefaultValueFactory = _ => 256 << 10 };
        var cmd = new Command("commit-loop") { url, oid, blocks, size };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var file = StorageArguments.ParseOid(r.GetValue(oid)!);
            using var s = StorageFactory.OpenExisting(r.GetValue(url)!);
            var at = s.LastTid;
            var data = new byte[r.GetValue(size)];
            for (ulong i = 1; ; i++)
            {
                for (var off = 0; off + 8 <= data.Length; off += 8)
                    BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(off), i);
                var writes = Enumerable.Range(0, r.GetValue(blocks)).Select(b => new BlockWrite(file, b, data)).ToList();
                at = s.Commit(at, [], writes);
                Console.Out.WriteLine(at);
                Console.Out.Flush();
            }
        }));
        return cmd;
    }
}
