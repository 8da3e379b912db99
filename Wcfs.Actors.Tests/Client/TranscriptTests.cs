// The shared watch-link transcripts replayed through the C# grammar (WatchLinkGrammar.cs) and the C
// frame codec (wlink.c) side by side: sessions (protocol/transcripts/sessions/*.txt) - both accept the
// same frames, read the same fields, and reject the same bad server lines; and the pin cases ("P:")
// of the server's grammar.txt. The C test driver (native/tests/wlink_transcripts.c) replays the same
// files through the codec alone.
using System.Text;
using Wcfs.Actors.Protocol;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Client;

public class TranscriptTests
{
    private static string TranscriptDir()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            var t = Path.Combine(d.FullName, "protocol", "transcripts", "sessions");
            if (Directory.Exists(t))
                return t;
        }
        throw new DirectoryNotFoundException($"protocol/transcripts/sessions not found above {AppContext.BaseDirectory}");
    }

    public static TheoryData<string> Transcripts() => [.. Directory.GetFiles(TranscriptDir(), "*.txt").Select(p => Path.GetFileName(p))];

    private static unsafe (int Rc, ulong Stream, string Text) NativeFrame(string line)
    {
        var b = Encoding.UTF8.GetBytes(line);
        fixed (byte* p = b)
        {
            var rc = ClientNative.ParseFrame(p, (ulong)b.Length, out var stream, out var off);
            return (rc, stream, rc == 0 ? Encoding.UTF8.GetString(b, (int)off, b.Length - (int)off) : "");
        }
    }

    private static unsafe (int Rc, ulong Oid, ulong Blk, ulong Rev, bool Head) NativePin(string text)
    {
        var b = Encoding.UTF8.GetBytes(text);
        fixed (byte* p = b)
        {
            var rc = ClientNative.ParsePin(p, (ulong)b.Length, out var oid, out var blk, out var rev, out var head);
            return (rc, oid, blk, rev, head != 0);
        }
    }

    [Theory]
    [MemberData(nameof(Transcripts))]
    public void The_CSharp_grammar_and_the_C_codec_agree_on_every_transcript_line(string file)
    {
        var lines = File.ReadAllLines(Path.Combine(TranscriptDir(), file)).Where(l => l.Length > 0 && l[0] != '#').ToList();
        Assert.NotEmpty(lines);
        foreach (var l in lines)
        {
            var (kind, mode, line) = (l[0], l[1], l[3..]);
            var csharp = WatchFrame.TryParse(line, out var frame);
            var native = NativeFrame(line);
            if (mode == ':')
            {
                Assert.True(csharp, $"C# rejects the frame: {l}");
                Assert.True(native.Rc == 0, $"C rejects the frame: {l}");
                Assert.Equal((frame.Stream, frame.Text), (native.Stream, native.Text));
                if (kind == 'C' && frame.Stream % 2 == 1)
                    Assert.IsNotType<BadRequest>(WatchLinkGrammar.ParseClient(frame.Stream, frame.Text));
                if (kind == 'S' && frame.Stream != 0 && frame.Stream % 2 == 0)
                {
                    var pin = PinRequest.TryParse(frame.Text);
                    Assert.True(pin is not null, $"C# rejects the pin: {l}");
                    var np = NativePin(frame.Text);
                    Assert.Equal((0, pin.File.Value, (ulong)pin.Block.Value, pin.Rev is null), (np.Rc, np.Oid, np.Blk, np.Head));
                    if (pin.Rev is { } rev)
                        Assert.Equal(rev.Value, np.Rev);
                }
            }
            else
            {
                Assert.Equal('!', mode);
                var csharpRejects = !csharp || (frame.Stream % 2 == 0 && frame.Stream != 0 && PinRequest.TryParse(frame.Text) is null);
                var nativeRejects = native.Rc != 0 || (native.Stream % 2 == 0 && native.Stream != 0 && NativePin(native.Text).Rc != 0);
                Assert.True(nativeRejects, $"C accepts a bad server line: {l}");
                Assert.True(csharpRejects, $"C# accepts a bad server line: {l}");
            }
        }
    }

    [Fact]
    public void The_C_codec_reads_every_pin_case_of_the_grammar_as_the_grammar_says()
    {
        var lines = File.ReadAllLines(Path.Combine(TranscriptDir(), "..", "grammar.txt"));
        var cases = 0;
        for (var i = 0; i + 1 < lines.Length; i++)
        {
            if (!lines[i].StartsWith("P: ", StringComparison.Ordinal))
                continue;
            var text = lines[i][3..];
            var np = NativePin(text);
            var got = np.Rc != 0 ? "= invalid" : $"= pin {np.Oid:x16} {np.Blk} {(np.Head ? "head" : np.Rev.ToString("x16", System.Globalization.CultureInfo.InvariantCulture))}";
            Assert.True(lines[i + 1] == got, $"grammar.txt: {text}\n  expected {lines[i + 1]}\n  C codec  {got}");
            cases++;
        }
        Assert.True(cases > 5, $"only {cases} P: cases in grammar.txt");
    }
}
