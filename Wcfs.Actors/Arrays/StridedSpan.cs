// StridedSpan<T> - a span over elements at arbitrary (also negative) element strides.
//
// TensorSpan<T> rejects negative strides, so views with a negative step use this type. It holds a
// pointer to element (0, .., 0), the shape and the element strides; it copies nothing. Enumeration
// walks the indices in C order (last index fastest), like NumPy's flat iteration.
using System.Runtime.CompilerServices;

namespace Wcfs.Actors.Arrays;

/// <summary>Elements of a view at arbitrary element strides, negative ones included; no copy.</summary>
/// <typeparam name="T">The element type.</typeparam>
public readonly unsafe ref struct StridedSpan<T> where T : unmanaged
{
    private readonly T* _origin;
    private readonly long[] _shape;
    private readonly long[] _strides;

    internal StridedSpan(T* origin, ReadOnlySpan<long> shape, ReadOnlySpan<long> elementStrides)
    {
        _origin = origin;
        _shape = shape.ToArray();
        _strides = elementStrides.ToArray();
        long length = 1;
        foreach (var n in shape)
            length *= n;
        Length = length;
    }

    /// <summary>The size of every dimension.</summary>
    public ReadOnlySpan<long> Shape => _shape;

    /// <summary>Per dimension, the distance in elements between neighbours (negative for a negative step).</summary>
    public ReadOnlySpan<long> Strides => _strides;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The number of elements.</summary>
    public long Length { get; }

    /// <summary>True when there are no elements.</summary>
    public bool IsEmpty => Length == 0;

    /// <summary>The element at <paramref name="indices"/> (one per dimension, negative counting from the end).</summary>
    /// <exception cref="ArgumentException">Not one index per dimension.</exception>
    /// <exception cref="IndexOutOfRangeException">An index is out of range.</exception>
    public ref T this[params ReadOnlySpan<long> indices]
    {
        get
        {
            if (indices.Length != Rank)
                throw new ArgumentException($"{indices.Length} indices for a {Rank}-dimensional view: give one per dimension", nameof(indices));
            long offset = 0;
            for (var d = 0; d < Rank; d++)
                offset += ViewGeometry.NormalizeIndex(indices[d], d, _shape[d]) * _strides[d];
            return ref Unsafe.AsRef<T>(_origin + offset);
        }
    }

    /// <summary>Enumerates refs to the elements in C order of the indices.</summary>
    public Enumerator GetEnumerator() => new(this);

    /// <summary>Copies the elements, in C order of the indices, to the start of <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentException">The destination is shorter than <see cref="Length"/>.</exception>
    public void CopyTo(Span<T> destination)
    {
        if (destination.Length < Length)
            throw new ArgumentException($"destination holds {destination.Length} elements, the view {Length}", nameof(destination));
        var i = 0;
        foreach (ref var x in this)
            destination[i++] = x;
    }

    /// <summary>A copy of the elements in C order of the indices.</summary>
    /// <exception cref="InvalidOperationException">More elements than an array holds.</exception>
    public T[] ToArray()
    {
        if (Length > Array.MaxLength)
            throw new InvalidOperationException($"view holds {Length} elements, more than an array holds ({Array.MaxLength})");
        var a = new T[Length];
        CopyTo(a);
        return a;
    }

    /// <summary>Sets every element to <paramref name="value"/>.</summary>
    public void Fill(T value)
    {
        foreach (ref var x in this)
            x = value;
    }

    /// <summary>Walks the elements in C order of the indices (an odometer over the shape; the last
    /// dimension is stepped without touching the odometer).</summary>
    public ref struct Enumerator
    {
        private readonly long[] _shape, _strides;
        private readonly long[] _index;   // the odometer over all dimensions but the last
        private readonly long _innerStride, _innerLength;
        private T* _current;
        private long _innerLeft;          // steps left in the last dimension before a carry
        private long _remaining;          // elements not yet visited
        private bool _started;

        internal Enumerator(StridedSpan<T> span)
        {
            _shape = span._shape;
            _strides = span._strides;
            _index = new long[Math.Max(span.Rank - 1, 0)];
            _innerStride = span.Rank == 0 ? 0 : _strides[^1];
            _innerLength = span.Rank == 0 ? 1 : _shape[^1];
            _innerLeft = _innerLength - 1;
            _current = span._origin;
            _remaining = span.Length;
            _started = false;
        }

        /// <summary>The current element.</summary>
        public readonly ref T Current => ref Unsafe.AsRef<T>(_current);

        /// <summary>Moves to the next element; false after the last.</summary>
        public bool MoveNext()
        {
            if (_remaining == 0)
                return false;
            _remaining--;
            if (!_started)
            {
                _started = true;
                return true;
            }
            if (_innerLeft > 0)
            {
                _innerLeft--;
                _current += _innerStride;
                return true;
            }
            // Carry: back to the start of the last dimension, then step the odometer.
            _current -= (_innerLength - 1) * _innerStride;
            _innerLeft = _innerLength - 1;
            for (var d = _index.Length - 1; d >= 0; d--)
            {
                if (++_index[d] < _shape[d])
                {
                    _current += _strides[d];
                    return true;
                }
                _current -= (_shape[d] - 1) * _strides[d];
                _index[d] = 0;
            }
            return true; // unreachable while _remaining counts the elements
        }
    }
}
