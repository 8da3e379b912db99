// WatchLinkBuffers - the functional core of a watch link's I/O (WatchLinkActor is the shell):
// the inbound frame splitter and the bounded outbound queue. Pure: no FUSE, no actors, no clock;
// unit-tested without an ActorSystem (WatchLinkBuffersTests).
//
// Invariants:
//   (1) FrameSplitter looks at every inbound byte once (linear time in the bytes written) and holds
//       at most MaxLineBytes of a partial line: a longer line is reported once as over-long (with
//       its first MaxLineBytes bytes for the error text) and the splitter then refuses everything.
//   (2) OutQueue hands out the queued frames' bytes in order, none lost or repeated, in pieces as
//       large as each read asks for; Bytes and ReplyBytes (all but pins: what the link's bound
//       checks) are the exact counts queued.
using System.Text;

namespace Wcfs.Actors.Server;

/// <summary>Splits the bytes a client writes into lines (invariant (1)).</summary>
internal sealed class FrameSplitter(int maxLineBytes)
{
    private readonly byte[] _line = new byte[maxLineBytes];
    private int _length;
    private bool _overLong;

    /// <summary>A line over the limit was seen: no more lines come out.</summary>
    public bool Failed => _overLong;

    /// <summary>Bytes of an unfinished line are kept (or the splitter failed): the next bytes continue it.</summary>
    public bool HoldsPartialLine => _length > 0 || _overLong;

    /// <summary>
    /// Feeds bytes: calls <paramref name="onLine"/> with each complete line (without '\n') in order
    /// until it returns false (the rest of the bytes is not looked at); if a line goes over the
    /// limit, returns its first bytes (and no further lines come out, invariant (1)).
    /// </summary>
    public string? Feed(ReadOnlySpan<byte> data, Func<string, bool> onLine)
    {
        if (_overLong)
            return null;
        foreach (var b in data)
        {
            if (b == (byte)'\n')
            {
                var line = Encoding.UTF8.GetString(_line, 0, _length);
                _length = 0;
                if (!onLine(line))
                    return null;
                continue;
            }
            if (_length == _line.Length)
            {
                _overLong = true;
                return Encoding.UTF8.GetString(_line, 0, _length);
            }
            _line[_length++] = b;
        }
        return null;
    }
}

/// <summary>The frames queued for the client, in order, as bytes (invariant (2)).</summary>
internal sealed class OutQueue
{
    private readonly Queue<(byte[] Data, bool Reply)> _frames = new();
    private int _headOffset;

    /// <summary>Bytes queued and not yet read by the client.</summary>
    public long Bytes { get; private set; }

    /// <summary>Bytes of replies (every frame but pins) queued and not yet read: what the link bounds.</summary>
    public long ReplyBytes { get; private set; }

    public bool IsEmpty => Bytes == 0;

    /// <param name="frameText">The frame with its '\n'.</param>
    /// <param name="reply">False for a pin: pins are bounded by the pin timeout, not by the queue.</param>
    public void Enqueue(string frameText, bool reply = true)
    {
        var b = Encoding.UTF8.GetBytes(frameText);
        if (b.Length == 0)
            return;
        _frames.Enqueue((b, reply));
        Bytes += b.Length;
        if (reply)
            ReplyBytes += b.Length;
    }

    /// <summary>Up to <paramref name="max"/> bytes from the front of the queue (empty if nothing is queued).</summary>
    public byte[] Take(int max)
    {
        var n = (int)Math.Min(max, Bytes);
        var result = new byte[n];
        var pos = 0;
        while (pos < n)
        {
            var (f, reply) = _frames.Peek();
            var k = Math.Min(n - pos, f.Length - _headOffset);
            f.AsSpan(_headOffset, k).CopyTo(result.AsSpan(pos));
            pos += k;
            _headOffset += k;
            if (reply)
                ReplyBytes -= k;
            if (_headOffset == f.Length)
            {
                _frames.Dequeue();
                _headOffset = 0;
            }
        }
        Bytes -= n;
        return result;
    }
}
