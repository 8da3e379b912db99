// ArrayView<T> - a typed view of an array over memory holding its bytes; no copies (invariant (4)).
//
// One geometry, three ways in: Span<T> (contiguous views, memory order), TensorSpan<T> (views whose
// strides TensorSpan accepts, see below) and StridedSpan<T> (any view, ours), plus element refs.
//
// TensorSpan<T> in System.Numerics.Tensors 10 (measured; docs/NOTES.md "Arrays"):
//   - rejects negative strides: such views use StridedSpan<T>;
//   - requires, over the dimensions sorted by stride, each stride ≥ the previous stride × its length,
//     which some non-overlapping views from basic slicing break (a[:, ::2] of a 6×5 C array:
//     strides [5, 2]): ViewGeometry.FitsTensorSpan says which, the others use StridedSpan<T>;
//   - requires stride 0 for a dimension of length 0 or 1: AsTensorSpan passes 0 for those dimensions,
//     which changes no element's address;
//   - rejects an empty Span<T> as backing memory: empty views are built over an empty array.
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace Wcfs.Actors.Arrays;

/// <summary>
/// A view of an N-d array over memory that holds the bytes the view touches. Not synchronized (like
/// <see cref="Span{T}"/>). Disposing it disposes the owner given at creation (e.g. the mapping).
/// </summary>
/// <typeparam name="T">The element type; its size must be the geometry's element size.</typeparam>
public sealed unsafe class ArrayView<T> : IDisposable where T : unmanaged
{
    private readonly ArrayMemory _memory;
    private readonly byte* _origin; // element (0, .., 0); unused for an empty view
    private readonly IDisposable? _owner;
    private bool _disposed;

    /// <summary>A view with <paramref name="geometry"/> over <paramref name="memory"/>.</summary>
    /// <param name="geometry">Where the view's elements are in the array's file.</param>
    /// <param name="memory">Memory holding at least the view's bytes (<see cref="ViewGeometry.Bytes"/>).</param>
    /// <param name="owner">Disposed with the view (e.g. the mapping behind <paramref name="memory"/>); null for none.</param>
    /// <exception cref="ArgumentException">The element size differs from T's, or the memory is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The memory does not hold all bytes of the view.</exception>
    public ArrayView(ViewGeometry geometry, ArrayMemory memory, IDisposable? owner = null)
    {
        ArgumentNullException.ThrowIfNull(geometry);
        if (geometry.ElementSize != sizeof(T))
            throw new ArgumentException($"a view of {geometry.ElementSize}-byte elements cannot be used as {typeof(T).Name} ({sizeof(T)} bytes)", nameof(geometry));
        var bytes = geometry.Bytes;
        if (!memory.Bytes.Contains(bytes))
            throw new ArgumentOutOfRangeException(nameof(memory), $"memory holds bytes {memory.Bytes} of the array but the view needs {bytes}: map the view's pages (ViewGeometry.Bytes)");
        if (memory.Address == 0 && !bytes.IsEmpty)
            throw new ArgumentException("memory address is null", nameof(memory));
        Geometry = geometry;
        _memory = memory;
        _origin = bytes.IsEmpty ? null : (byte*)memory.AddressOf(geometry.ByteOffset);
        _owner = owner;
    }

    /// <summary>A view of <paramref name="layout"/> sliced by <paramref name="ranges"/> over <paramref name="memory"/>.</summary>
    /// <exception cref="ArgumentException">T does not match the layout's element size, or too many selectors.</exception>
    /// <exception cref="IndexOutOfRangeException">A single index is out of range.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The memory does not hold the view's bytes.</exception>
    public static ArrayView<T> Create(ArrayLayout layout, ArrayMemory memory, params ReadOnlySpan<Slice> ranges)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new ArrayView<T>(layout.Slice(ranges), memory);
    }

    /// <summary>Where the view's elements are in the array's file.</summary>
    public ViewGeometry Geometry { get; }

    /// <summary>The size of every dimension of the view.</summary>
    public ReadOnlySpan<long> Shape => Geometry.Shape.AsSpan();

    /// <summary>The number of dimensions.</summary>
    public int Rank => Geometry.Rank;

    /// <summary>The number of elements.</summary>
    public long Length => Geometry.Length;

    /// <summary>True when <see cref="AsSpan"/> works: the elements fill one dense block.</summary>
    public bool IsContiguous => Geometry.IsContiguous;

    /// <summary>The element at <paramref name="indices"/> (one per dimension, negative counting from the end).</summary>
    /// <exception cref="ArgumentException">Not one index per dimension.</exception>
    /// <exception cref="IndexOutOfRangeException">An index is out of range.</exception>
    public ref T this[params ReadOnlySpan<long> indices]
    {
        get
        {
            ThrowIfDisposed();
            var offset = Geometry.RelativeByteOffsetOf(indices); // throws for every index of an empty view
            return ref Unsafe.AsRef<T>(_origin + offset);
        }
    }

    /// <summary>A sub-view (NumPy basic slicing of this view) over the same memory; it does not own the memory.</summary>
    public ArrayView<T> Slice(params ReadOnlySpan<Slice> ranges)
    {
        ThrowIfDisposed();
        return new ArrayView<T>(Geometry.Slice(ranges), _memory);
    }

    /// <summary>The elements as one span, in memory order (C order for views of C arrays, Fortran
    /// order for views of Fortran arrays).</summary>
    /// <exception cref="InvalidOperationException">The view is not contiguous, or holds more than
    /// <see cref="int.MaxValue"/> elements.</exception>
    public Span<T> AsSpan()
    {
        ThrowIfDisposed();
        if (!Geometry.IsContiguous)
            throw new InvalidOperationException($"view {Geometry} is not contiguous, so it has no Span<T>: use AsTensorSpan() or AsStrided()");
        if (Length > int.MaxValue)
            throw new InvalidOperationException($"view holds {Length} elements but a Span<T> holds at most {int.MaxValue}: use AsTensorSpan(), AsStrided() or a smaller slice");
        if (Length == 0)
            return [];
        // The dense block starts at the lowest byte, which is the origin for positive strides.
        return new Span<T>(_origin, (int)Length);
    }

    /// <summary>
    /// The view as a <see cref="TensorSpan{T}"/> over the memory (no copy; writes land in the array),
    /// with the view's shape and strides. A 0-d view gives a 1-d tensor of one element.
    /// </summary>
    /// <exception cref="InvalidOperationException">The view has negative strides (a negative step), or
    /// strides TensorSpan does not accept (<see cref="ViewGeometry.FitsTensorSpan"/>): use <see cref="AsStrided"/>.</exception>
    public TensorSpan<T> AsTensorSpan()
    {
        ThrowIfDisposed();
        if (Geometry.HasNegativeStrides)
            throw new InvalidOperationException($"view {Geometry} has negative strides (a negative step), which TensorSpan<T> cannot represent: use AsStrided()");
        if (!Geometry.FitsTensorSpan)
            throw new InvalidOperationException(
                $"view {Geometry} has strides TensorSpan<T> rejects (each stride must be at least the extent of the dimensions with smaller strides): use AsStrided(), or step 1 in inner dimensions");
        var rank = Math.Max(Rank, 1);
        var lengths = new nint[rank];
        var strides = new nint[rank];
        if (Rank == 0)
            lengths[0] = 1;
        for (var d = 0; d < Rank; d++)
        {
            lengths[d] = (nint)Geometry.Shape[d];
            // TensorSpan requires stride 0 for dimensions of length 0 or 1 (file header comment).
            strides[d] = Length == 0 || Geometry.Shape[d] <= 1 ? 0 : (nint)(Geometry.ByteStrides[d] / sizeof(T));
        }
        if (Length == 0)
            return new TensorSpan<T>(Array.Empty<T>(), lengths, strides); // the Span<T> constructor rejects an empty span (measured)
        var dataLength = (nint)(Geometry.Bytes.Count / sizeof(T));
        return new TensorSpan<T>((T*)_origin, dataLength, lengths, strides);
    }

    /// <summary>The view as our strided span: any strides, negative ones included; element refs and
    /// enumeration in C order of the view's indices.</summary>
    public StridedSpan<T> AsStrided()
    {
        ThrowIfDisposed();
        return new StridedSpan<T>((T*)_origin, Geometry.Shape.AsSpan(), Geometry.ElementStrides.AsSpan());
    }

    /// <summary>A copy of the elements in C order of the view's indices.</summary>
    public T[] ToArray() => AsStrided().ToArray();

    /// <summary>Disposes the owner given at creation; the view is unusable afterwards.</summary>
    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _owner?.Dispose();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);
}
