// ViewGeometry - where the elements of a view live: (byte offset, shape, byte strides), with NumPy
// basic slicing, contiguity and the bytes a view touches. See ArrayLayout.cs for the invariants.
//
// Slicing follows NumPy (PySlice_AdjustIndices): for a dimension of size n and step > 0, start and
// stop default to 0 and n, negatives count from the end, both clamp to [0, n]; for step < 0, start
// defaults to n-1 and stop to "before the beginning", negatives count from the end, both clamp to
// [-1, n-1]. The count is ceil((stop - start) / step) when positive, else 0 (an empty view, never an
// error). A single index drops the dimension and must lie in [-n, n). Fewer selectors than
// dimensions select the rest whole.
using System.Collections.Immutable;

namespace Wcfs.Actors.Arrays;

/// <summary>
/// The geometry of a view of an array: the byte offset of its element (0, .., 0) in the array's file,
/// its shape and its byte strides (negative for a negative step). Immutable.
/// </summary>
public sealed record ViewGeometry
{
    /// <summary>The address space a view can be mapped into: 128 TiB, the user address space of
    /// 64-bit Linux with 4-level page tables (2 GiB in a 32-bit process).</summary>
    public static readonly long AddressSpaceLimit = IntPtr.Size == 8 ? 1L << 47 : int.MaxValue;

    internal ViewGeometry(long byteOffset, ImmutableArray<long> shape, ImmutableArray<long> byteStrides, int elementSize)
    {
        ByteOffset = byteOffset;
        Shape = shape;
        ByteStrides = byteStrides;
        ElementSize = elementSize;
        long length = 1;
        foreach (var n in shape)
            length *= n; // fits: a view never holds more elements than the layout it comes from, invariant (2)
        Length = length;
    }

    /// <summary>The byte offset of the view's element (0, .., 0) in the array's file (meaningless for an empty view).</summary>
    public long ByteOffset { get; }

    /// <summary>The size of every dimension of the view.</summary>
    public ImmutableArray<long> Shape { get; }

    /// <summary>Per dimension, the distance in bytes between neighbours (negative for a negative step).</summary>
    public ImmutableArray<long> ByteStrides { get; }

    /// <summary>The size of one element in bytes.</summary>
    public int ElementSize { get; }

    /// <summary>The number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>The number of elements.</summary>
    public long Length { get; }

    /// <summary>Per dimension, the distance in elements between neighbours.</summary>
    public ImmutableArray<long> ElementStrides => ByteStrides.Select(s => s / ElementSize).ToImmutableArray();

    /// <summary>True when the elements fill one dense block in C order (NumPy's C_CONTIGUOUS: dimensions
    /// of size 1 are ignored; an empty view is contiguous).</summary>
    public bool IsCContiguous => IsDense(reverse: true);

    /// <summary>True when the elements fill one dense block in Fortran order (NumPy's F_CONTIGUOUS).</summary>
    public bool IsFortranContiguous => IsDense(reverse: false);

    /// <summary>True when the elements fill one dense block of <see cref="Length"/> elements, in C or
    /// Fortran order. Views of a C array are C-contiguous, of a Fortran array Fortran-contiguous (a view
    /// that is both has at most one dimension longer than 1, so its two orders coincide).</summary>
    public bool IsContiguous => IsCContiguous || IsFortranContiguous;

    /// <summary>True when some dimension longer than 1 has a negative stride (a negative step):
    /// <see cref="System.Numerics.Tensors.TensorSpan{T}"/> cannot represent the view.</summary>
    public bool HasNegativeStrides
    {
        get
        {
            if (Length == 0)
                return false;
            for (var d = 0; d < Rank; d++)
            {
                if (Shape[d] > 1 && ByteStrides[d] < 0)
                    return true;
            }
            return false;
        }
    }

    /// <summary>
    /// True when <see cref="System.Numerics.Tensors.TensorSpan{T}"/> (System.Numerics.Tensors 10) accepts
    /// the view's strides: none negative, and, over the dimensions longer than 1 sorted by stride, each
    /// stride at least the previous stride times its length (the library's non-overlap check, stricter
    /// than non-overlap: <c>a[:, ::2]</c> of a 6×5 C array has strides [5, 2] and 5 &lt; 2·3). Every
    /// contiguous view qualifies, and so does a step in the outermost dimension. Measured; docs/NOTES.md "Arrays".
    /// </summary>
    public bool FitsTensorSpan
    {
        get
        {
            if (Length == 0)
                return true;
            if (HasNegativeStrides)
                return false;
            var dims = Enumerable.Range(0, Rank).Where(d => Shape[d] > 1).OrderBy(d => ByteStrides[d]).ToArray();
            for (var k = 1; k < dims.Length; k++)
            {
                if (ByteStrides[dims[k]] < ByteStrides[dims[k - 1]] * Shape[dims[k - 1]])
                    return false;
            }
            return true;
        }
    }

    /// <summary>The bytes [first, last] of the array's file the view touches: its lowest and highest
    /// element's bytes, and every element in between; empty for an empty view. Map these pages
    /// (<see cref="ByteRange.ToPages"/>) and only these to back the view.</summary>
    public ByteRange Bytes
    {
        get
        {
            if (Length == 0)
                return ByteRange.Empty;
            long first = ByteOffset, last = ByteOffset;
            for (var d = 0; d < Rank; d++)
            {
                var extent = (Shape[d] - 1) * ByteStrides[d];
                if (extent < 0)
                    first += extent;
                else
                    last += extent;
            }
            return new ByteRange(first, last + ElementSize - 1);
        }
    }

    /// <summary>Throws unless the view's bytes fit in the address space (<see cref="AddressSpaceLimit"/>).</summary>
    /// <exception cref="InsufficientMemoryException">The view spans more bytes than the process can map.</exception>
    public void EnsureMappable()
    {
        var bytes = Bytes;
        if (bytes.Count > AddressSpaceLimit)
            throw new InsufficientMemoryException(
                $"view spans {bytes.Count} bytes {bytes} of the array, more than the {AddressSpaceLimit}-byte address space: take a smaller slice");
    }

    /// <summary>The pages of the array's file to map for this view and only these: (first page, page
    /// count), (0, 0) for an empty view.</summary>
    /// <param name="pageSize">The mapping's page size in bytes.</param>
    /// <exception cref="InsufficientMemoryException">The view spans more than the address space.</exception>
    public (long PgOffset, long PgLen) PagesToMap(long pageSize)
    {
        EnsureMappable();
        return Bytes.ToPages(pageSize);
    }

    /// <summary>
    /// The geometry of a sub-view with NumPy basic-slicing semantics: one <see cref="Arrays.Slice"/> per
    /// leading dimension (a single index drops the dimension; a range keeps it, possibly empty or
    /// reversed); dimensions without a selector are taken whole. One <see cref="Arrays.Slice.Ellipsis"/>
    /// stands for as many whole dimensions as the other selectors leave; <see cref="Arrays.Slice.NewAxis"/>
    /// inserts a dimension of length 1.
    /// </summary>
    /// <exception cref="ArgumentException">More selectors than dimensions, or more than one ellipsis.</exception>
    /// <exception cref="IndexOutOfRangeException">A single index outside [-n, n) of its dimension.</exception>
    public ViewGeometry Slice(params ReadOnlySpan<Slice> ranges)
    {
        var selecting = 0;
        var ellipses = 0;
        foreach (var r in ranges)
        {
            if (r.IsEllipsis)
                ellipses++;
            else if (!r.IsNewAxis)
                selecting++;
        }
        if (ellipses > 1)
            throw new ArgumentException("an index can only have a single ellipsis ('...')", nameof(ranges));
        if (selecting > Rank)
            throw new ArgumentException($"too many indices for array: array is {Rank}-dimensional, but {selecting} were indexed", nameof(ranges));

        var offset = ByteOffset;
        var shape = ImmutableArray.CreateBuilder<long>(Rank + ranges.Length);
        var strides = ImmutableArray.CreateBuilder<long>(Rank + ranges.Length);
        var d = 0; // the next dimension of this geometry to select from
        foreach (var r in ranges)
        {
            if (r.IsNewAxis)
            {
                shape.Add(1);
                strides.Add(0);
            }
            else if (r.IsEllipsis)
            {
                for (var whole = Rank - selecting; whole > 0; whole--, d++)
                    SelectRange(Arrays.Slice.All, d, ref offset, shape, strides);
            }
            else if (r.IsIndex)
            {
                offset += NormalizeIndex(r.Index, d, Shape[d]) * ByteStrides[d];
                d++;
            }
            else
            {
                SelectRange(r, d++, ref offset, shape, strides);
            }
        }
        for (; d < Rank; d++)
            SelectRange(Arrays.Slice.All, d, ref offset, shape, strides);
        return new ViewGeometry(offset, shape.ToImmutable(), strides.ToImmutable(), ElementSize);
    }

    private void SelectRange(Slice r, int d, ref long offset, ImmutableArray<long>.Builder shape, ImmutableArray<long>.Builder strides)
    {
        long n = Shape[d], stride = ByteStrides[d];
        var (start, count) = Resolve(r, n);
        if (count > 0)
            offset += start * stride;
        shape.Add(count);
        // |step| < n when count > 1, so stride·step stays within the parent's extent.
        strides.Add(count > 1 ? stride * r.Step : stride);
    }

    /// <summary>The byte distance from element (0, .., 0) to the element at <paramref name="indices"/>
    /// (one per dimension, negative counting from the end).</summary>
    /// <exception cref="ArgumentException">Not one index per dimension.</exception>
    /// <exception cref="IndexOutOfRangeException">An index outside [-n, n) of its dimension.</exception>
    public long RelativeByteOffsetOf(ReadOnlySpan<long> indices)
    {
        if (indices.Length != Rank)
            throw new ArgumentException($"{indices.Length} indices for a {Rank}-dimensional view: give one per dimension", nameof(indices));
        long offset = 0;
        for (var d = 0; d < indices.Length; d++)
            offset += NormalizeIndex(indices[d], d, Shape[d]) * ByteStrides[d];
        return offset;
    }

    /// <summary>A single index in [-n, n) → [0, n).</summary>
    internal static long NormalizeIndex(long index, int axis, long n)
    {
        var i = index < 0 ? index + n : index;
        if (i < 0 || i >= n)
            throw new IndexOutOfRangeException($"index {index} is out of bounds for axis {axis} with size {n}");
        return i;
    }

    /// <summary>NumPy's slice adjustment: the first index and the number of selected elements.</summary>
    internal static (long Start, long Count) Resolve(Slice r, long n)
    {
        var step = r.Step;
        long start, stop;
        if (step > 0)
        {
            start = Clamp(r.Start ?? 0, n, 0, n);
            stop = Clamp(r.Stop ?? n, n, 0, n);
            return (start, stop > start ? (stop - start - 1) / step + 1 : 0);
        }
        start = r.Start is { } s ? Clamp(s, n, -1, n - 1) : n - 1;
        stop = r.Stop is { } e ? Clamp(e, n, -1, n - 1) : -1;
        // Int128: -step overflows a long for step == long.MinValue.
        return (start, start > stop ? (long)((Int128)(start - stop - 1) / -(Int128)step) + 1 : 0);
    }

    private static long Clamp(long i, long n, long low, long high)
    {
        if (i < 0)
            i += n;
        return Math.Clamp(i, low, high);
    }

    private bool IsDense(bool reverse)
    {
        if (Length == 0)
            return true;
        long expected = ElementSize;
        for (var k = 0; k < Rank; k++)
        {
            var d = reverse ? Rank - 1 - k : k;
            if (Shape[d] == 1)
                continue;
            if (ByteStrides[d] != expected)
                return false;
            expected *= Shape[d];
        }
        return true;
    }

    /// <summary>Equal offset, shape, strides and element size.</summary>
    public bool Equals(ViewGeometry? other) =>
        other is not null && ByteOffset == other.ByteOffset && ElementSize == other.ElementSize &&
        Shape.AsSpan().SequenceEqual(other.Shape.AsSpan()) && ByteStrides.AsSpan().SequenceEqual(other.ByteStrides.AsSpan());

    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(ByteOffset);
        h.Add(ElementSize);
        foreach (var n in Shape)
            h.Add(n);
        foreach (var s in ByteStrides)
            h.Add(s);
        return h.ToHashCode();
    }

    /// <summary><c>ViewGeometry(offset 16, shape [2, 3], byte strides [-32, 8])</c>.</summary>
    public override string ToString() =>
        $"ViewGeometry(offset {ByteOffset}, shape {ArrayLayout.Format(Shape.AsSpan())}, byte strides {ArrayLayout.Format(ByteStrides.AsSpan())})";
}
