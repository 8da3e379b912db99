// Every log call of the library and the tool uses named templates ("pin {Oid} blk {Blk} @{Rev}"),
// never positional ones ("{0}"): Akka's Serilog logger and `wcfs serve --log-format json` turn
// named holes into properties, positional ones into nothing queryable.
using System.Text.RegularExpressions;
using Xunit;

namespace Wcfs.Actors.Tests.Diagnostics;

public sealed partial class LogTemplateTests
{
    [GeneratedRegex("""\.(Debug|Info|Information|Warning|Error|Fatal|Verbose)\(\s*(\w+\s*,\s*)?\$?"(?<template>[^"]*)""")]
    private static partial Regex LogCall();

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "wcfs-actors.sln")))
                return d.FullName;
        throw new InvalidOperationException($"no wcfs-actors.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public void Log_calls_in_the_library_and_the_tool_use_named_templates()
    {
        var root = RepoRoot();
        var calls = 0;
        var bad = new List<string>();
        foreach (var dir in new[] { "Wcfs.Actors", "Wcfs.Host", "samples" })
            foreach (var file in Directory.EnumerateFiles(Path.Combine(root, dir), "*.cs", SearchOption.AllDirectories))
            {
                if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
                    continue;
                var lines = File.ReadAllLines(file);
                for (var i = 0; i < lines.Length; i++)
                    foreach (Match m in LogCall().Matches(lines[i]))
                    {
                        if (!lines[i].Contains("log", StringComparison.OrdinalIgnoreCase))
                            continue;
                        calls++;
                        var t = m.Groups["template"].Value;
                        if (Regex.IsMatch(t, @"\{\d+(:[^}]*)?\}") || lines[i].Contains("$\"", StringComparison.Ordinal))
                            bad.Add($"{Path.GetRelativePath(root, file)}:{i + 1}: {lines[i].Trim()}");
                    }
            }
        Assert.True(calls > 10, $"found only {calls} log calls: the scan is broken");
        Assert.True(bad.Count == 0, "positional or interpolated log templates:\n" + string.Join('\n', bad));
    }
}
