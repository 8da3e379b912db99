// VirtmemTestKit - the shared harness of the virtmem tests: an ActorSystem with reference.conf (for
// the virtmem dispatcher), one VirtmemActor per page size, and plain files on tmpfs as backends.
using Akka.Actor;
using Akka.Configuration;
using Microsoft.Win32.SafeHandles;
using Wcfs.Actors.Configuration;
using Wcfs.Actors.Virtmem;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Virtmem;

public abstract class VirtmemTestKit(ITestOutputHelper output)
    : Akka.TestKit.Xunit2.TestKit(WcfsSettings.Reference, output: output)
{
    /// <summary>Default timeout of anything awaited in these tests (one factor for slow CI).</summary>
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Dictionary<long, IActorRef> _virtmem = [];
    private readonly List<IDisposable> _cleanup = [];

    protected IActorRef Virtmem(long pageSize, long ramLimit = 512L << 20)
    {
        if (!_virtmem.TryGetValue(pageSize, out var a))
        {
            var settings = new VirtmemProtocol.Settings(pageSize, ramLimit, Timeout);
            _virtmem[pageSize] = a = Sys.ActorOf(VirtmemProtocol.Props(settings), $"virtmem-{pageSize}");
        }
        return a;
    }

    protected BigFileH Open(BigFile file, long pageSize) =>
        VirtmemProtocol.OpenAsync(Virtmem(pageSize), file, Timeout).GetAwaiter().GetResult();

    /// <summary>A tmpfs file of <paramref name="size"/> bytes where byte i is <paramref name="fill"/>(i).</summary>
    protected SafeFileHandle TmpfsFile(long size, Func<long, byte> fill)
    {
        var path = Path.Combine("/dev/shm", $"wcfs-vmtest-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var h = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite, FileOptions.DeleteOnClose);
        var buf = new byte[size];
        for (long i = 0; i < size; i++)
            buf[i] = fill(i);
        RandomAccess.Write(h, buf, 0);
        _cleanup.Add(h);
        return h;
    }

    protected T Track<T>(T d) where T : IDisposable
    {
        _cleanup.Add(d);
        return d;
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        for (var i = _cleanup.Count - 1; i >= 0; i--)
            _cleanup[i].Dispose();
    }

    /// <summary>A storeblk that records every call.</summary>
    protected sealed class RecordingStore : IBlockStore
    {
        public List<(long Blk, long Offset, byte[] Data)> Calls { get; } = [];
        public Exception? FailWith { get; set; }

        public void StoreBlock(Wcfs.Actors.Storage.BlockNumber blk, long offsetInBlock, ReadOnlySpan<byte> data)
        {
            if (FailWith is { } e)
                throw e;
            Calls.Add((blk.Value, offsetInBlock, data.ToArray()));
        }
    }
}
