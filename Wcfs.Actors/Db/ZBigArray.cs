// ZBigArray<T> - a typed N-d array stored in a ZBigFile (API.md §1, issue 7 part 1).
//
// The layout, slicing and views are Wcfs.Actors/Arrays (ArrayLayout invariant (5): the file past
// ByteSize reads as zeros). This file wires them to a connection:
//   - shape, order and dtype are the object state (ZBigArrayState), written at commit with base At:
//     Resize and Append are transactional and conflict like any other write;
//   - element bytes live in the array's ZBigFile; Append writes exactly the appended bytes, a
//     shrinking Resize zeroes the cut-off bytes that may hold data (stored blocks or dirty pages),
//     both through the connection's BigFileH, i.e. as dirty pages of the same transaction;
//   - View maps only the blocks holding the view's bytes (overlay mappings are whole blocks) and
//     the returned ArrayView owns that mapping: dispose the view to unmap it.
//
// Opening (no sync-over-async): the connection's handle of the array's file is opened
// asynchronously - by OpenAsync, or by the commit that stores a new array (CommitAsync opens the
// files of the arrays it created). Append, Resize and View use that handle and never wait: on an
// array whose file is not open they throw, saying to `await array.OpenAsync()`. So a view taken
// inside an actor (or any context with one thread) cannot hang on an Ask it would have to wait for.
//
// Threading: every public member enters the connection's flow guard (Connection invariant (1)).
using System.Collections.Immutable;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Client;
using Wcfs.Actors.Storage;
using Wcfs.Actors.Virtmem;

namespace Wcfs.Actors.Db;

/// <summary>What the connection needs to know about any ZBigArray.</summary>
internal interface IZBigArray
{
    string Dtype { get; }

    /// <summary>The oid of the file holding the elements.</summary>
    Oid FileOid { get; }
}

/// <summary>An N-d array of <typeparamref name="T"/> stored in a <see cref="ZBigFile"/>, persisted with its connection.</summary>
/// <typeparam name="T">The element type (its dtype is stored: see <see cref="Arrays.Dtype"/>).</typeparam>
public sealed unsafe class ZBigArray<T> : Persistent, IZBigArray where T : unmanaged
{
    internal ZBigArray(Connection connection, Oid oid, ZBigArrayState state)
        : this(connection, oid, state, isNew: false)
    {
    }

    private ZBigArray(Connection connection, Oid oid, ZBigArrayState state, bool isNew)
        : base(connection, oid, state, isNew)
    {
        _ = ArrayLayout.Of<T>(state); // dtype and shape check
    }

    /// <summary>
    /// A new array of zeros in <paramref name="connection"/>'s transaction, over a new ZBigFile of
    /// <paramref name="blockSize"/>-byte blocks. Both are stored at commit; map or append after that.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension is negative (named), the array would exceed 2^63-1 bytes,
    /// or the block size is invalid.</exception>
    public static ZBigArray<T> Create(Connection connection, long[] shape, ArrayOrder order = ArrayOrder.C, int blockSize = ZBigFile.DefaultBlockSize)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(shape);
        var layout = ArrayLayout.For<T>(shape, order);
        if (!ZBigFileState.IsValidBlockSize(blockSize))
            throw new ArgumentException($"block size {blockSize} is not a power of two from 4 KiB to 64 MiB", nameof(blockSize));
        using var flow = connection.EnterFlow("create a ZBigArray");
        var file = ZBigFile.CreateCore(connection, blockSize);
        var state = new ZBigArrayState(layout.Shape, ArrayLayout.DtypeOf<T>(), order, file.Oid);
        return new ZBigArray<T>(connection, connection.NewOid(), state, isNew: true);
    }

    private ZBigArrayState ArrayState => (ZBigArrayState)CurrentState;

    /// <summary>The layout (shape, order, strides) as of this transaction.</summary>
    public ArrayLayout Layout
    {
        get
        {
            using var flow = Connection.EnterFlow($"read ZBigArray {Oid}");
            return ArrayLayout.Of<T>(ArrayState);
        }
    }

    /// <summary>The shape.</summary>
    public ImmutableArray<long> Shape => Layout.Shape;

    /// <summary>C (row-major) or Fortran (column-major).</summary>
    public ArrayOrder Order => Layout.Order;

    /// <summary>Number of elements.</summary>
    public long Length => Layout.Length;

    /// <summary>The stored element type name (e.g. "float64").</summary>
    public string Dtype => ArrayState.Dtype;

    Oid IZBigArray.FileOid => ArrayState.FileOid;

    /// <summary>
    /// Opens the connection's handle of the array's file, so that <see cref="View"/>, <see cref="Append"/> and
    /// <see cref="Resize"/> map its pages without waiting; a no-op when it is open (the commit that stores a new
    /// array opens it too). Needed once per connection for an array loaded from the root.
    /// </summary>
    /// <exception cref="InvalidOperationException">The array was created in this transaction (commit first), or the
    /// connection is used concurrently.</exception>
    /// <exception cref="WcfsServerGoneException">The WCFS server is gone.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task OpenAsync(CancellationToken cancellationToken = default)
    {
        ZBigFile file;
        using (Connection.EnterFlow($"open ZBigArray {Oid}"))
            file = Connection.GetObject<ZBigFile>(ArrayState.FileOid);
        return file.OpenAsync(cancellationToken); // enters the flow guard for the open itself
    }

    /// <summary>The file holding the elements.</summary>
    public ZBigFile File
    {
        get
        {
            using var flow = Connection.EnterFlow($"read ZBigArray {Oid}");
            return Connection.GetObject<ZBigFile>(ArrayState.FileOid);
        }
    }

    /// <summary>
    /// Appends <paramref name="data"/> along the slowest axis (axis 0 for C, the last for Fortran);
    /// its length must be a whole number of rows (the product of the other dimensions). Writes only
    /// the appended bytes.
    /// </summary>
    /// <exception cref="ArgumentException">The length is not a whole number of rows, or the array is 0-d.</exception>
    /// <exception cref="InvalidOperationException">The array was created in this transaction (commit first), or its
    /// file is not open (<see cref="OpenAsync"/> first).</exception>
    public void Append(ReadOnlySpan<T> data)
    {
        using var flow = Connection.EnterFlow($"append to ZBigArray {Oid}");
        var layout = ArrayLayout.Of<T>(ArrayState);
        var plan = ArrayGrowth.Append(layout, data.Length);
        if (!plan.Write.IsEmpty)
            Write(plan.Write.First, System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
        SetState(ArrayState with { Shape = plan.NewLayout.Shape });
    }

    /// <summary>
    /// Changes the shape (numpy.ndarray.resize: the same bytes in memory order, zeros past the old
    /// end). O(1) in the shape; a shrink zeroes the cut-off bytes that hold data, so growing again
    /// shows zeros. Transactional: stored at commit, dropped at abort, conflicts like any write.
    /// </summary>
    /// <exception cref="ArgumentException">A dimension is negative, or the array would exceed 2^63-1 bytes.</exception>
    /// <exception cref="InvalidOperationException">A shrink must zero stored bytes and the file is not open
    /// (<see cref="OpenAsync"/> first).</exception>
    public void Resize(long[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        using var flow = Connection.EnterFlow($"resize ZBigArray {Oid}");
        var state = ArrayState;
        var plan = ArrayGrowth.Resize(ArrayLayout.Of<T>(state), shape);
        var zero = DataBearing(plan.Zero, state.FileOid);
        if (!zero.IsEmpty)
            Zero(zero);
        SetState(state with { Shape = plan.NewLayout.Shape });
    }

    /// <summary>
    /// A view with NumPy basic slicing (indices, ranges with steps, <see cref="Slice.Ellipsis"/>,
    /// <see cref="Slice.NewAxis"/>) over the mapped pages of the file — no copy. Only the blocks holding
    /// the view's bytes are mapped; dispose the view to unmap them. Writes through the view are
    /// dirty pages of the connection's transaction.
    /// </summary>
    /// <exception cref="IndexOutOfRangeException">A single index is out of range.</exception>
    /// <exception cref="InsufficientMemoryException">The view spans more than the address space.</exception>
    /// <exception cref="InvalidOperationException">The array was created in this transaction (commit first), or its
    /// file is not open (<see cref="OpenAsync"/> first).</exception>
    public ArrayView<T> View(params ReadOnlySpan<Slice> ranges)
    {
        using var flow = Connection.EnterFlow($"view ZBigArray {Oid}");
        var geometry = ArrayLayout.Of<T>(ArrayState).Slice(ranges);
        geometry.EnsureMappable();
        if (geometry.Bytes.IsEmpty)
            return new ArrayView<T>(geometry, default);
        var vma = Map(geometry.Bytes, out var memory);
        try
        {
            return new ArrayView<T>(geometry, memory, vma);
        }
        catch
        {
            vma.Dispose();
            throw;
        }
    }

    /// <summary>The part of <paramref name="cut"/> that may hold non-zero bytes: stored blocks, or
    /// anything while the connection's handle of the file has dirty pages.</summary>
    private ByteRange DataBearing(ByteRange cut, Oid fileOid)
    {
        var file = Connection.GetObject<ZBigFile>(fileOid);
        if (cut.IsEmpty || file.IsNew)
            return ByteRange.Empty;
        if (Connection.OpenedHandle(fileOid) is { IsDirty: true })
            return cut;
        var storedEnd = BlockNumber.FileSize(Connection.Storage.LastBlock(fileOid, Connection.At), file.BlockSize);
        return cut.First >= storedEnd ? ByteRange.Empty : new ByteRange(cut.First, Math.Min(cut.Last, storedEnd - 1));
    }

    private void Write(long offset, ReadOnlySpan<byte> bytes)
    {
        using var vma = Map(ByteRange.FromOffset(offset, bytes.Length), out var memory);
        bytes.CopyTo(new Span<byte>((void*)memory.AddressOf(offset), bytes.Length));
    }

    private void Zero(ByteRange range)
    {
        const int Chunk = 1 << 30;
        using var vma = Map(range, out var memory);
        for (var at = range.First; at <= range.Last; at += Chunk)
            new Span<byte>((void*)memory.AddressOf(at), (int)Math.Min(Chunk, range.Last + 1 - at)).Clear();
    }

    /// <summary>Maps the whole blocks holding <paramref name="bytes"/> (overlay mappings are whole blocks).</summary>
    private Vma Map(ByteRange bytes, out ArrayMemory memory)
    {
        var file = Connection.GetObject<ZBigFile>(ArrayState.FileOid);
        if (file.IsNew)
            throw new InvalidOperationException($"ZBigArray {Oid} was created in this transaction: commit first, then map it (WCFS serves only committed files)");
        var handle = Connection.OpenedHandle(file.Oid) is { IsClosed: false } h ? h
            : throw new InvalidOperationException($"ZBigArray {Oid}: its file {file.Oid} is not open in this connection: `await array.OpenAsync()` first (a commit opens the arrays it creates)");
        long blockSize = file.BlockSize, pageSize = handle.PageSize;
        var firstBlock = bytes.First / blockSize;
        var blocks = bytes.Last / blockSize - firstBlock + 1;
        var pagesPerBlock = blockSize / pageSize;
        var vma = handle.Mmap(firstBlock * pagesPerBlock, blocks * pagesPerBlock);
        memory = ArrayMemory.FromPages(vma.Address, vma.FileRange.PgOffset, pageSize, vma.Length);
        return vma;
    }

    private protected override void CheckState(ObjectState state)
    {
        if (state is not ZBigArrayState a)
            throw new InvalidOperationException($"object {Oid} is a {state.GetType().Name}, not a ZBigArray");
        if (!Arrays.Dtype.Matches<T>(a.Dtype))
            throw new InvalidOperationException($"ZBigArray {Oid} holds {a.Dtype} elements, not {typeof(T).Name}");
    }
}
