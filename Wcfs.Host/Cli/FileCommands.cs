// FileCommands - `wcfs file create|write|cat|ls` (API.md §4): big files in storage, no FUSE.
using System.CommandLine;
using System.Globalization;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static class FileCommands
{
    /// <summary>The `file` command group.</summary>
    public static Command Create()
    {
        var file = new Command("file", "create, write and read big files in storage (not through FUSE)");
        file.Subcommands.Add(CreateCommand());
        file.Subcommands.Add(WriteCommand());
        file.Subcommands.Add(CatCommand());
        file.Subcommands.Add(LsCommand());
        return file;
    }

    private static Command CreateCommand()
    {
        var url = StorageArguments.UrlArgument();
        var blksize = new Option<string>("--blksize") { Description = "block size: a power of two from 4KiB to 64MiB", DefaultValueFactory = _ => "2MiB", HelpName = "N" };
        var name = new Option<string?>("--name") { Description = "also record the file under this name in the root" };
        var config = StorageArguments.ConfigOption();
        var cmd = new Command("create", "create a ZBigFile and commit; prints \"<oid> <tid>\"") { url, blksize, name, config };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var u = StorageArguments.Url(r, url, config);
            var bs = StorageArguments.ParseBlockSize(r.GetValue(blksize)!);
            var n = r.GetValue(name);
            if (n is { Length: 0 })
                throw new UsageException("--name must not be empty");
            using var s = StorageFactory.Open(u);
            var oid = s.NewOid();
            var tid = CommitWithRootRetry(s, at =>
            {
                var writes = new List<ObjectWrite> { new(oid, new ZBigFileState(bs)) };
                if (n is not null)
                {
                    var root = (RootState)s.LoadObject(Oid.Root, at)!.State;
                    if (root.Names.TryGetValue(n, out var existing))
                        throw new CommandException($"name \"{n}\" is already taken by {existing}");
                    writes.Add(new ObjectWrite(Oid.Root, root with { Names = root.Names.SetItem(n, oid) }));
                }
                return writes;
            });
            Console.Out.WriteLine($"{oid} {tid}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Commits object writes built as of the last tid, rebuilding them if the root changed meanwhile.</summary>
    private static Tid CommitWithRootRetry(IStorage s, Func<Tid, List<ObjectWrite>> build)
    {
        for (var attempt = 1; ; attempt++)
        {
            var at = s.LastTid;
            try
            {
                return s.Commit(at, build(at), []);
            }
            catch (ConflictException) when (attempt < 5)
            {
                // someone else changed the root between our read and our commit: rebuild on the new state
            }
        }
    }

    private static Command WriteCommand()
    {
        var args = new Argument<string[]>("args") { Description = "[url] oid blk path (\"-\" = stdin)", Arity = new ArgumentArity(3, 4), HelpName = "[url] <oid> <blk> <path or ->" };
        var config = StorageArguments.ConfigOption();
        var cmd = new Command("write", "write one block (zero-padded; longer than the block size is an error) and commit; prints \"<tid>\"") { args, config };
        cmd.SetAction(r => CliErrors.RunAsync(async () =>
        {
            var (u, rest) = StorageArguments.SplitUrl(r, r.GetValue(args), 3, config);
            var oid = StorageArguments.ParseOid(rest[0]);
            var blk = StorageArguments.ParseBlock(rest[1]);
            var data = await ReadInputAsync(rest[2]);
            using var s = StorageFactory.Open(u);
            var at = s.LastTid;
            var f = StorageArguments.RequireFile(s, oid, at);
            if (data.Length > f.BlockSize)
                throw new CommandException($"data is {data.Length} bytes, longer than the block size {f.BlockSize} of {oid}");
            var tid = s.Commit(at, [], [new BlockWrite(oid, blk, data)]);
            Console.Out.WriteLine(tid);
            return 0;
        }));
        return cmd;
    }

    private static async Task<byte[]> ReadInputAsync(string path)
    {
        if (path == "-")
        {
            using var ms = new MemoryStream();
            await using var stdin = Console.OpenStandardInput();
            await stdin.CopyToAsync(ms);
            return ms.ToArray();
        }
        try
        {
            return await File.ReadAllBytesAsync(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CommandException($"cannot read {path}: {e.Message}");
        }
    }

    private static Command CatCommand()
    {
        var args = new Argument<string[]>("args") { Description = "[url] oid", Arity = new ArgumentArity(1, 2), HelpName = "[url] <oid>" };
        var at = new Option<string?>("--at") { Description = "read as of this tid (default: the last commit)", HelpName = "TID" };
        var blk = new Option<string?>("--blk") { Description = "only this block (block size bytes)", HelpName = "N" };
        var config = StorageArguments.ConfigOption();
        var cmd = new Command("cat", "read a file (or one block) from storage to stdout") { args, at, blk, config };
        cmd.SetAction(r => CliErrors.RunAsync(async () =>
        {
            var (u, rest) = StorageArguments.SplitUrl(r, r.GetValue(args), 1, config);
            var oid = StorageArguments.ParseOid(rest[0]);
            var atText = r.GetValue(at);
            var atTid = atText is null ? (Tid?)null : StorageArguments.ParseTid(atText);
            var blkText = r.GetValue(blk);
            var only = blkText is null ? (long?)null : StorageArguments.ParseBlock(blkText);
            using var s = StorageFactory.OpenExisting(u);
            var t = atTid ?? s.LastTid;
            if (t > s.LastTid)
                throw new CommandException($"tid {t} is after the last commit {s.LastTid}");
            var f = StorageArguments.RequireFile(s, oid, t);
            var (first, last) = only is { } b ? (b, b) : (0, s.LastBlock(oid, t));
            var buf = new byte[f.BlockSize];
            await using var stdout = Console.OpenStandardOutput();
            for (var i = first; i <= last; i++)
            {
                s.ReadBlock(oid, i, t, buf);
                await stdout.WriteAsync(buf);
            }
            return 0;
        }));
        return cmd;
    }

    private static Command LsCommand()
    {
        var args = StorageArguments.UrlArgument();
        var at = new Option<string?>("--at") { Description = "list as of this tid (default: the last commit)", HelpName = "TID" };
        var config = StorageArguments.ConfigOption();
        var cmd = new Command("ls", "list files: \"<oid> <blksize> <size> <name>\" lines (name \"-\" if none)") { args, at, config };
        cmd.SetAction(r => CliErrors.Run(() =>
        {
            var u = StorageArguments.Url(r, args, config);
            var atText = r.GetValue(at);
            var atTid = atText is null ? (Tid?)null : StorageArguments.ParseTid(atText);
            using var s = StorageFactory.OpenExisting(u);
            var t = atTid ?? s.LastTid;
            var root = (RootState)s.LoadObject(Oid.Root, t)!.State;
            var names = root.Names.GroupBy(kv => kv.Value).ToDictionary(g => g.Key, g => string.Join(',', g.Select(kv => kv.Key)));
            foreach (var oid in s.ListObjects(t))
            {
                if (s.LoadObject(oid, t)?.State is not ZBigFileState f)
                    continue;
                var size = (s.LastBlock(oid, t) + 1) * f.BlockSize;
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{oid} {f.BlockSize} {size} {names.GetValueOrDefault(oid, "-")}"));
            }
            return 0;
        }));
        return cmd;
    }
}
