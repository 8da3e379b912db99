// Arrays - the N-d layout and views of ZBigArray<T> (API.md §1), as pure managed code over memory.
//
// What this subsystem owns: the arithmetic of an N-d array stored densely in a file starting at
// byte 0 (shape, order, strides, sizes; ArrayLayout), NumPy basic slicing of it (Slice, ViewGeometry),
// typed views over a region of memory that holds the file's bytes (ArrayView<T>, StridedSpan<T>,
// ArrayMemory), and the shape arithmetic of Append and Resize (ArrayGrowth). It does not own the
// memory: ZBigArray<T> maps the pages a view needs (ViewGeometry.PagesToMap, from ViewGeometry.Bytes) through
// virtmem and hands the mapping to ArrayView<T> as an ArrayMemory.
//
// Organization:
//   ArrayLayout    shape + order + element size → strides, Length, ByteSize (this file)
//   Dtype          T → NumPy-like dtype name ("float64", "V16")
//   Slice          one dimension's selector: index or start:stop:step
//   ViewGeometry   (byte offset, shape, byte strides) of a view; slicing; contiguity; bytes touched
//   ByteRange      inclusive [first, last] byte range; → pages
//   ArrayMemory    a region of memory holding the bytes [FileOffset, FileOffset + Length) of the file
//   ArrayView<T>   a view over ArrayMemory: Span<T>, TensorSpan<T>, StridedSpan<T>, element refs
//   StridedSpan<T> our strided span (any strides, including the negative ones TensorSpan rejects)
//   ArrayGrowth    Append/Resize plans: new layout, bytes to write, bytes to zero
//
// Invariants:
//   (1) The element at indices (i0, .., ik) of a layout lives at byte Σ i_d · ByteStrides[d]; the
//       elements fill [0, ByteSize) exactly once, in memory order (C: last index fastest; Fortran:
//       first index fastest).
//   (2) Length, ByteSize and every stride fit in a long: a shape for which they would not is
//       rejected at creation (so no later arithmetic on a layout overflows).
//   (3) A view sliced from a geometry touches only bytes inside that geometry's Bytes; a view never
//       reads or writes a byte outside ViewGeometry.Bytes, and ArrayView<T> refuses memory that does
//       not hold all of them.
//   (4) No copies: views address the memory they are given; writes through Span, TensorSpan,
//       StridedSpan and element refs land in that memory.
//   (5) The file's bytes past ByteSize read as zeros: Append writes exactly [old ByteSize, new
//       ByteSize); a shrinking Resize names the cut-off bytes, which the owner zeroes, so growing
//       again shows zeros, not old data.
//
// Threading: ArrayLayout, ViewGeometry, Slice and the plans are immutable and thread-safe.
// ArrayView<T> is not synchronized, like Span<T>: concurrent writers of one element race.
using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Arrays;

/// <summary>
/// The layout of a dense N-d array stored from byte 0 of a file: shape, order, element size, strides
/// and sizes. Immutable; equal when shape, order and element size are equal.
/// </summary>
public sealed record ArrayLayout
{
    private ArrayLayout(ImmutableArray<long> shape, ArrayOrder order, int elementSize, ImmutableArray<long> elementStrides, long length)
    {
        Shape = shape;
        Order = order;
        ElementSize = elementSize;
        ElementStrides = elementStrides;
        ByteStrides = elementStrides.Select(s => s * elementSize).ToImmutableArray();
        Length = length;
        ByteSize = length * elementSize;
    }

    /// <summary>The size of every dimension (each ≥ 0); empty for a 0-d array (one element).</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>C (row-major) or Fortran (column-major).</summary>
    public ArrayOrder Order { get; }

    /// <summary>The size of one element in bytes.</summary>
    public int ElementSize { get; }

    /// <summary>Per dimension, the distance in elements between neighbours along it.</summary>
    public ImmutableArray<long> ElementStrides { get; }

    /// <summary>Per dimension, the distance in bytes between neighbours along it.</summary>
    public ImmutableArray<long> ByteStrides { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The number of elements (the product of the shape; 1 for a 0-d array).</summary>
    public long Length { get; }

    /// <summary>The size of the array's data in bytes: <see cref="Length"/> × <see cref="ElementSize"/>.</summary>
    public long ByteSize { get; }

    /// <summary>The NumPy-like dtype name of <typeparamref name="T"/>; see <see cref="Dtype"/>.</summary>
    public static string DtypeOf<T>() where T : unmanaged => Dtype.NameOf<T>();

    /// <summary>The layout of an array of <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentException">A dimension is negative (the message names it), or the array would hold more than 2^63-1 bytes.</exception>
    public static ArrayLayout For<T>(ReadOnlySpan<long> shape, ArrayOrder order = ArrayOrder.C) where T : unmanaged =>
        Create(shape, order, Unsafe.SizeOf<T>());

    /// <summary>The layout of an array of <paramref name="elementSize"/>-byte elements.</summary>
    /// <exception cref="ArgumentException">A dimension is negative (the message names it), the order is unknown,
    /// or the array would hold more than 2^63-1 bytes.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementSize"/> is not positive.</exception>
    public static ArrayLayout Create(ReadOnlySpan<long> shape, ArrayOrder order, int elementSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(elementSize);
        if (order is not (ArrayOrder.C or ArrayOrder.Fortran))
            throw new ArgumentException($"unknown array order {order}", nameof(order));
        for (var d = 0; d < shape.Length; d++)
        {
            if (shape[d] < 0)
                throw new ArgumentException($"shape[{d}] is {shape[d]}: dimensions must be >= 0 (shape {Format(shape)})", nameof(shape));
        }

        // Invariant (2): the product of the dimensions (zeros counted as 1, so that the strides of
        // an empty array are representable too) times the element size fits in a long.
        long bound = elementSize;
        foreach (var n in shape)
        {
            if (n > 1 && bound > long.MaxValue / n)
                throw new ArgumentException($"shape {Format(shape)} of {elementSize}-byte elements holds more than 2^63-1 bytes", nameof(shape));
            bound *= Math.Max(n, 1);
        }

        var strides = new long[shape.Length];
        long stride = 1;
        for (var k = 0; k < shape.Length; k++)
        {
            var d = order == ArrayOrder.C ? shape.Length - 1 - k : k;
            strides[d] = stride;
            stride *= Math.Max(shape[d], 1);
        }
        long length = 1;
        foreach (var n in shape)
            length *= n;
        return new ArrayLayout([.. shape], order, elementSize, ImmutableArray.Create(strides), length);
    }

    /// <summary>The layout of a stored array viewed as <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentException">The stored dtype is not <typeparamref name="T"/>'s (see
    /// <see cref="Dtype.Matches{T}"/>), or the stored shape is invalid.</exception>
    public static ArrayLayout Of<T>(ZBigArrayState state) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!Dtype.Matches<T>(state.Dtype))
            throw new ArgumentException($"array holds {state.Dtype} elements; it cannot be viewed as {typeof(T).Name} ({Dtype.NameOf<T>()})", nameof(state));
        return For<T>(state.Shape.AsSpan(), state.Order);
    }

    /// <summary>The same order and element size with another shape.</summary>
    /// <exception cref="ArgumentException">As for <see cref="Create"/>.</exception>
    public ArrayLayout WithShape(ReadOnlySpan<long> shape) => Create(shape, Order, ElementSize);

    /// <summary>The geometry of the whole array (byte offset 0, the array's shape and strides).</summary>
    public ViewGeometry Full => new(0, Shape, ByteStrides, ElementSize);

    /// <summary>The geometry of a view with NumPy basic-slicing semantics; see <see cref="ViewGeometry.Slice"/>.</summary>
    public ViewGeometry Slice(params ReadOnlySpan<Slice> ranges) => Full.Slice(ranges);

    /// <summary>Equal shape, order and element size.</summary>
    public bool Equals(ArrayLayout? other) =>
        other is not null && Order == other.Order && ElementSize == other.ElementSize && Shape.AsSpan().SequenceEqual(other.Shape.AsSpan());

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(Order);
        h.Add(ElementSize);
        foreach (var n in Shape)
            h.Add(n);
        return h.ToHashCode();
    }

    /// <summary><c>ArrayLayout([3, 4], C, 8-byte elements)</c>.</summary>
    public override string ToString() => $"ArrayLayout({Format(Shape.AsSpan())}, {Order}, {ElementSize}-byte elements)";

    internal static string Format(ReadOnlySpan<long> shape) => $"[{string.Join(", ", shape.ToArray())}]";
}
