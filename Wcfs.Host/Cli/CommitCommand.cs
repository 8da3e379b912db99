// CommitCommand - `wcfs commit [url]`: one transaction from JSON on stdin (API.md §4):
//   {"<oid>": {"<blk>": "<base64>" or null}}      null deletes the block (it becomes a hole)
// Everything is validated before anything is written; prints the new tid.
using System.CommandLine;
using System.Text.Json;
using Wcfs.Actors.Storage;

namespace Wcfs.Host.Cli;

internal static class CommitCommand
{
    public static Command Create()
    {
        var url = StorageArguments.UrlArgument();
        var config = StorageArguments.ConfigOption();
        var cmd = new Command("commit", "commit blocks from JSON on stdin: {\"<oid>\": {\"<blk>\": \"<base64>\" or null}}; prints \"<tid>\"") { url, config };
        cmd.SetAction(r => CliErrors.RunAsync(async () =>
        {
            var u = StorageArguments.Url(r, url, config);
            string text;
            using (var stdin = new StreamReader(Console.OpenStandardInput()))
                text = await stdin.ReadToEndAsync();
            var writes = Parse(text);
            using var s = StorageFactory.Open(u);
            var at = s.LastTid;
            foreach (var w in writes)
            {
                var f = StorageArguments.RequireFile(s, w.Oid, at);
                if (BlockNumber.CheckInFile(w.Blk, f.BlockSize) is { } bad)
                    throw new CommandException($"file {w.Oid}: {bad}");
                if (w.Data is { Length: var n } && n > f.BlockSize)
                    throw new CommandException($"data for block {w.Blk} of {w.Oid} is {n} bytes, longer than the block size {f.BlockSize}");
            }
            Console.Out.WriteLine(s.Commit(at, [], writes));
            return 0;
        }));
        return cmd;
    }

    /// <summary>Parses the commit JSON; every error names the offending key.</summary>
    public static List<BlockWrite> Parse(string text)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(text);
        }
        catch (JsonException e)
        {
            throw new CommandException($"malformed JSON on stdin: {e.Message}");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CommandException("commit JSON must be an object {\"<oid>\": {\"<blk>\": \"<base64>\" or null}}");
            var writes = new List<BlockWrite>();
            foreach (var file in doc.RootElement.EnumerateObject())
            {
                if (!Oid.TryParse(file.Name, out var oid))
                    throw new CommandException($"invalid oid \"{file.Name}\" in commit JSON: expected 16 hex digits");
                if (file.Value.ValueKind != JsonValueKind.Object)
                    throw new CommandException($"value for {oid} must be an object {{\"<blk>\": \"<base64>\" or null}}");
                foreach (var block in file.Value.EnumerateObject())
                {
                    if (!BlockNumber.TryParse(block.Name, out var blk))
                        throw new CommandException($"invalid block number \"{block.Name}\" of {oid} in commit JSON: expected a decimal number ≥ 0");
                    writes.Add(new BlockWrite(oid, blk, block.Value.ValueKind switch
                    {
                        JsonValueKind.Null => null,
                        JsonValueKind.String => Base64(block.Value.GetString()!, oid, blk),
                        _ => throw new CommandException($"block {blk} of {oid}: expected a base64 string or null"),
                    }));
                }
            }
            if (writes.GroupBy(w => (w.Oid, w.Blk)).FirstOrDefault(g => g.Count() > 1) is { } dup)
                throw new CommandException($"block {dup.Key.Blk} of {dup.Key.Oid} appears twice in commit JSON");
            return writes;
        }
    }

    private static byte[] Base64(string s, Oid oid, long blk)
    {
        try
        {
            return Convert.FromBase64String(s);
        }
        catch (FormatException)
        {
            throw new CommandException($"block {blk} of {oid}: data is not valid base64");
        }
    }
}
