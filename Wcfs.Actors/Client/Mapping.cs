// Mapping - blocks [BlkStart, BlkStop) of a WCFS file mapped read-only into this process (API.md §1).
//
// What the memory shows: the file as of its Conn's at — head below the size, zeros past it, pinned
// blocks at their @rev (wcfs_client.c, "the mapping rule"). After its FileH or Conn closed, any
// access ends the process (the range is PROT_NONE); Dispose still works and unmaps.
using Akka.Actor;
using Wcfs.Native.Interop;

namespace Wcfs.Actors.Client;

/// <summary>A read-only mapping of whole blocks of a WCFS file. Dispose unmaps.</summary>
public sealed class Mapping : IDisposable
{
    private readonly WclMappingHandle _handle;
    private readonly IActorRef _actor;

    internal Mapping(FileH file, WclMappingHandle handle, IActorRef actor, long blkStart, long blkStop)
    {
        File = file;
        _handle = handle;
        _actor = actor;
        BlkStart = blkStart;
        BlkStop = blkStop;
        Length = (blkStop - blkStart) * file.BlockSize;
    }

    /// <summary>The file this mapping shows.</summary>
    public FileH File { get; }

    /// <summary>First mapped block.</summary>
    public long BlkStart { get; }

    /// <summary>One past the last mapped block.</summary>
    public long BlkStop { get; }

    /// <summary>Length in bytes.</summary>
    public long Length { get; }

    /// <summary>Address of byte 0 of block <see cref="BlkStart"/>.</summary>
    public nint Address => _handle.IsClosed ? throw Disposed() : _handle.Address;

    /// <summary>The whole mapping (up to 2 GiB; larger ones use <see cref="GetSpan"/>).</summary>
    public unsafe ReadOnlySpan<byte> Span => Length <= int.MaxValue
        ? new ReadOnlySpan<byte>((void*)Address, (int)Length)
        : throw new InvalidOperationException($"the mapping is {Length} bytes, more than a span holds: use GetSpan(offset, length)");

    /// <summary>Bytes [offset, offset+length) of the mapping.</summary>
    public unsafe ReadOnlySpan<byte> GetSpan(long offset, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        if (offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(length), $"[{offset}, {offset + length}) is outside the mapping of {Length} bytes");
        return new ReadOnlySpan<byte>((byte*)Address + offset, length);
    }

    /// <summary>The bytes of block <paramref name="blk"/> (absolute block number).</summary>
    public ReadOnlySpan<byte> Block(long blk)
    {
        if (blk < BlkStart || blk >= BlkStop)
            throw new ArgumentOutOfRangeException(nameof(blk), $"block {blk} is outside the mapping [{BlkStart}, {BlkStop})");
        return GetSpan((blk - BlkStart) * File.BlockSize, checked((int)File.BlockSize));
    }

    /// <summary>Maps block <paramref name="blk"/> back to what its pins say: pinned[blk], else head, else zeros past the size.</summary>
    public void RemmapBlk(long blk)
    {
        if (_handle.IsClosed)
            throw Disposed();
        _handle.RemmapBlk(blk);
        _actor.Tell(new MappingProtocol.Remapped(blk));
    }

    /// <summary>Unmaps (also after the FileH or Conn closed).</summary>
    public void Dispose()
    {
        if (_handle.IsClosed)
            return;
        _handle.Dispose();
        _actor.Tell(new MappingProtocol.Unmapped());
    }

    private ObjectDisposedException Disposed() => new(nameof(Mapping), $"mapping of blocks [{BlkStart}, {BlkStop}) of {File.Oid} is disposed");
}
