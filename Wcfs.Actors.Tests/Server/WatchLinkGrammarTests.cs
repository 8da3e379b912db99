// The C# watch-link grammar against the shared transcript protocol/transcripts/grammar.txt.
using Wcfs.Actors.Protocol;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Server;

public class WatchLinkGrammarTests
{
    private static string TranscriptPath(string name)
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var p = Path.Combine(d.FullName, "protocol", "transcripts", name);
            if (File.Exists(p))
                return p;
        }
        throw new FileNotFoundException($"protocol/transcripts/{name} not found above {AppContext.BaseDirectory}");
    }

    /// <summary>What the grammar makes of one client line, in the transcript's notation.</summary>
    private static string Outcome(string line)
    {
        if (!WatchFrame.TryParse(line, out var frame))
            return "S! 0 " + WatchLinkGrammar.InvalidFrame(line);
        return WatchLinkGrammar.ParseClient(frame.Stream, frame.Text) switch
        {
            WatchRequest { At: { } at } w => $"= watch {w.File} @{at}",
            WatchRequest w => $"= watch {w.File} -",
            ByeRequest => "= bye",
            PinReply { IsAck: true } => "= ack",
            PinReply r => "= nak " + r.Text,
            BadRequest b => $"S: {frame.Stream} {WatchLinkGrammar.ErrorReply(b.Error)}",
            var m => throw new InvalidOperationException($"unexpected {m}"),
        };
    }

    private static string PinOutcome(string text) =>
        PinRequest.TryParse(text) is { } p ? $"= pin {p.File} {p.Block} {(p.Rev is { } r ? r.ToString() : "head")}" : "= invalid";

    [Fact]
    public void Every_case_of_the_shared_grammar_transcript_parses_as_written()
    {
        var lines = File.ReadAllLines(TranscriptPath("grammar.txt"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
        var cases = 0;
        for (var i = 0; i < lines.Length; i += 2)
        {
            var input = lines[i];
            var expected = lines[i + 1];
            var actual = input.StartsWith("C: ", StringComparison.Ordinal) ? Outcome(input[3..])
                : input.StartsWith("P: ", StringComparison.Ordinal) ? PinOutcome(input[3..])
                : throw new InvalidDataException($"grammar.txt: expected C: or P: line, got \"{input}\"");
            Assert.True(expected == actual, $"grammar.txt: {input}\n  expected {expected}\n  actual   {actual}");
            cases++;
        }
        Assert.True(cases > 30, $"only {cases} cases read");
    }

    [Fact]
    public void Pins_format_as_the_protocol_writes_them()
    {
        var oid = new Wcfs.Actors.Storage.Oid(1);
        Assert.Equal("pin 0000000000000001 #3 @00000000000000a0", new PinRequest(oid, new Wcfs.Actors.Storage.BlockNumber(3), new Wcfs.Actors.Storage.Tid(0xa0)).ToText());
        Assert.Equal("pin 0000000000000001 #0 @head", new PinRequest(oid, new Wcfs.Actors.Storage.BlockNumber(0), null).ToText());
        Assert.Equal("12 ack\n", new WatchFrame(12, "ack").ToString());
    }

    [Fact]
    public void A_frame_of_more_than_256_bytes_is_unframed()
    {
        Assert.True(WatchFrame.TryParse("1 " + new string('x', 253), out _)); // 255 bytes + '\n'
        Assert.False(WatchFrame.TryParse("1 " + new string('x', 254), out _));
    }
}
