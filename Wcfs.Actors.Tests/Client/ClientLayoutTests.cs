// The C# mirror of struct wcl_event matches the header; the same numbers are static_asserts in
// Wcfs.Native/native/tests/client_layout.c (compiled against the real header by CTest).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Wcfs.Native.Interop;
using Xunit;

namespace Wcfs.Actors.Tests.Client;

public class ClientLayoutTests
{
    [Fact]
    public void The_event_struct_has_the_layout_of_the_native_header()
    {
        Assert.Equal(312, Unsafe.SizeOf<ClientNative.Event>());
        Assert.Equal(
            [0, 4, 8, 16, 24, 32, 40, 48, 52, 56],
            new[] { "Kind", "Rc", "Stream", "Oid", "Blk", "Rev", "Nanos", "IsHead", "TextLength", "Text" }
                .Select(f => (int)Marshal.OffsetOf<ClientNative.Event>(f)));
        Assert.Equal((1, 2, 3, 4, 256), (ClientNative.EventReply, ClientNative.EventPin, ClientNative.EventDown, ClientNative.EventLastWords, ClientNative.FrameMax));
    }
}
