// WatchLinkGrammar - frames, requests and replies of the watch link (PROTOCOL.md §4), used by the
// server now and by the client; both sides are tested against protocol/transcripts/*.txt.
//
// Frame: "<stream> <text>\n"; stream is a decimal uint64, text has no '\n', a frame is at most
// 256 bytes including its '\n'. Client requests use odd streams, server requests even streams,
// stream 0 carries the server's last words.
//
//   C: 1 watch 0000000000000001 @00000000000000a0
//   S: 2 pin 0000000000000001 #3 @000000000000009f
//   C: 2 ack
//   S: 1 ok
//   C: 3 watch 0000000000000001 -
//   S: 3 ok
//   C: 5 bye
//
// Invariants:
//   (1) Every error text of PROTOCOL.md §4.2 is produced here and only here (one spelling).
//   (2) Parsing never throws on input from the wire: the result says what was wrong.
using System.Globalization;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Protocol;

/// <summary>One frame of the watch link: stream id and text (without the trailing newline).</summary>
public readonly record struct WatchFrame(ulong Stream, string Text)
{
    /// <summary>The maximum length of a frame in bytes, including its '\n'.</summary>
    public const int MaxBytes = 256;

    /// <summary>The wire form "&lt;stream&gt; &lt;text&gt;\n".</summary>
    public override string ToString() => Stream.ToString(CultureInfo.InvariantCulture) + " " + Text + "\n";

    /// <summary>Parses one line (without '\n'); false for an unframed line (no space, bad stream, too long).</summary>
    public static bool TryParse(string line, out WatchFrame frame)
    {
        frame = default;
        if (System.Text.Encoding.UTF8.GetByteCount(line) + 1 > MaxBytes)
            return false;
        var sp = line.IndexOf(' ', StringComparison.Ordinal);
        if (sp <= 0)
            return false;
        var s = line.AsSpan(0, sp);
        foreach (var c in s)
            if (c is < '0' or > '9')
                return false;
        if (!ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var stream))
            return false;
        frame = new WatchFrame(stream, line[(sp + 1)..]);
        return true;
    }
}

/// <summary>A request from the client (odd stream) or a reply to a pin (even stream).</summary>
public abstract record ClientMessage;

/// <summary><c>watch &lt;oid&gt; @&lt;at&gt;</c> (At set) or <c>watch &lt;oid&gt; -</c> (At null: stop watching).</summary>
public sealed record WatchRequest(Oid File, Tid? At) : ClientMessage;

/// <summary><c>bye</c>: the client closes the link.</summary>
public sealed record ByeRequest : ClientMessage;

/// <summary>A reply to a pin: <c>ack</c> or anything else (a nak).</summary>
public sealed record PinReply(bool IsAck, string Text) : ClientMessage;

/// <summary>A framed client request the server cannot accept; the link stays up (PROTOCOL.md §4.2).</summary>
public sealed record BadRequest(string Error) : ClientMessage;

/// <summary>A pin the server asks for: re-map <c>Block</c> of <c>File</c> to <c>Rev</c> (null = head).</summary>
public sealed record PinRequest(Oid File, BlockNumber Block, Tid? Rev)
{
    /// <summary>The frame text: <c>pin &lt;oid&gt; #&lt;blk&gt; @&lt;rev|head&gt;</c>.</summary>
    public string ToText() => $"pin {File} #{Block} @{(Rev is { } r ? r.ToString() : "head")}";

    /// <summary>Parses a pin text (client side); null if it is not one.</summary>
    public static PinRequest? TryParse(string text)
    {
        var a = text.Split(' ');
        if (a.Length != 4 || a[0] != "pin" || !Oid.TryParse(a[1], out var oid) || !a[2].StartsWith('#') || !a[3].StartsWith('@'))
            return null;
        if (!BlockNumber.TryParse(a[2].AsSpan(1), out var blk))
            return null;
        if (a[3] == "@head")
            return new PinRequest(oid, blk, null);
        return Tid.TryParse(a[3].AsSpan(1), out var rev) ? new PinRequest(oid, blk, rev) : null;
    }
}

/// <summary>The grammar: parsing client frames and the one spelling of every error text.</summary>
public static class WatchLinkGrammar
{
    /// <summary>Parses the text of a client frame on <paramref name="stream"/>.</summary>
    public static ClientMessage ParseClient(ulong stream, string text)
    {
        if (stream % 2 == 0)
            return new PinReply(text == "ack", text);
        if (text == "bye")
            return new ByeRequest();
        var args = text.Split(' ');
        if (args[0] != "watch")
            return new BadRequest(NotAWatchRequest(text));
        if (args.Length != 3)
            return new BadRequest($"bad watch: expected 2 arguments, got {args.Length - 1}");
        if (!Oid.TryParse(args[1], out var oid))
            return new BadRequest("bad watch: invalid oid");
        if (args[2] == "-")
            return new WatchRequest(oid, null);
        if (!args[2].StartsWith('@') || !Tid.TryParse(args[2].AsSpan(1), out var at))
            return new BadRequest("bad watch: invalid at");
        return new WatchRequest(oid, at);
    }

    /// <summary>Formats a client watch request (client side).</summary>
    public static string FormatWatch(Oid file, Tid? at) => $"watch {file} {(at is { } a ? "@" + a : "-")}";

    /// <summary><c>bad watch: not a watch request: "&lt;text&gt;"</c></summary>
    public static string NotAWatchRequest(string text) => $"bad watch: not a watch request: {Quote(text)}";

    /// <summary>The reply text of a failed request: <c>error &lt;text&gt;</c>.</summary>
    public static string ErrorReply(string error) => "error " + error;

    /// <summary>The last words on stream 0 for an unframed line: <c>error: invalid frame: "&lt;line&gt;"</c>.</summary>
    public static string InvalidFrame(string line) => $"error: invalid frame: {Quote(line)}";

    /// <summary>The last words on stream 0 before a kill: <c>fatal: &lt;why&gt;</c>.</summary>
    public static string Fatal(string why) => "fatal: " + why;

    /// <summary>Setup error: the requested at is older than the server's history window.</summary>
    public static string TooFarBack(Oid file, Tid at, Tid head, Tid tail) =>
        $"setup watch {file} @{at}: too far away back from head/at (@{head}); history starts at @{tail}";

    /// <summary>Setup error: an existing watch would move to an older at.</summary>
    public static string GoingBack(Oid file, Tid at, Tid current) =>
        $"setup watch {file} @{at}: going back in history is forbidden (watch is at @{current})";

    /// <summary>Setup error: the file was not looked up under head/bigfile/ or is not a big file.</summary>
    public static string UnknownFile(Oid file, Tid at) =>
        $"setup watch {file} @{at}: file not yet known to wcfs or is not a big file";

    /// <summary>Setup error: the file did not exist yet at the requested at.</summary>
    public static string FileNotYetCreated(Oid file, Tid at, Tid created) =>
        $"setup watch {file} @{at}: file did not exist yet (created @{created})";

    /// <summary>The last words of a link with too many watch requests queued.</summary>
    public static string TooManyRequests(int max) => $"error: too many requests in flight (at most {max})";

    /// <summary>Why a link that does not read its replies ends.</summary>
    public static string ReplyQueueFull(long bytes) => $"reply queue full ({bytes} bytes): the client does not read its link";

    /// <summary>Go-style double quoting of a frame text (\" \\ and control bytes escaped).</summary>
    public static string Quote(string s)
    {
        var b = new System.Text.StringBuilder(s.Length + 2).Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': b.Append("\\\""); break;
                case '\\': b.Append("\\\\"); break;
                case '\t': b.Append("\\t"); break;
                case '\r': b.Append("\\r"); break;
                default:
                    if (c < 0x20) b.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else b.Append(c);
                    break;
            }
        }
        return b.Append('"').ToString();
    }
}
