// Slice - what one dimension of a view selects, with NumPy's basic-indexing semantics.
//
// A Slice is either a single index (the dimension disappears from the view; negative counts from the
// end; out of range is an IndexOutOfRangeException when applied) or a range start:stop:step (start
// and stop optional and clamped like NumPy, negative counting from the end; step != 0, may be
// negative). default(Slice) is ":" (the whole dimension). Two markers complete NumPy's basic
// indexing: Ellipsis ("...", as many ":" as the other selectors leave) and NewAxis (a new dimension
// of length 1). Resolution against a dimension's size is in ViewGeometry.
using System.Globalization;

namespace Wcfs.Actors.Arrays;

/// <summary>What one dimension of a view selects: a single index or a NumPy slice <c>start:stop:step</c>;
/// or the markers <see cref="Ellipsis"/> and <see cref="NewAxis"/>.</summary>
public readonly record struct Slice
{
    private enum Marker : byte { None, Ellipsis, NewAxis }

    private readonly Marker _marker;
    private readonly long _index;
    private readonly long? _start, _stop;
    private readonly long _stepMinusOne; // so that default(Slice) is ":" with step 1

    /// <summary>A range <c>start:stop:step</c>; null start/stop mean "from the beginning"/"to the end"
    /// in the direction of <paramref name="step"/>.</summary>
    /// <exception cref="ArgumentException">step is 0.</exception>
    public Slice(long? start, long? stop, long step = 1)
    {
        if (step == 0)
            throw new ArgumentException("slice step cannot be zero", nameof(step));
        _start = start;
        _stop = stop;
        _stepMinusOne = step - 1;
    }

    private Slice(long index)
    {
        IsIndex = true;
        _index = index;
    }

    private Slice(Marker marker) => _marker = marker;

    /// <summary>The whole dimension, <c>:</c>.</summary>
    public static Slice All => default;

    /// <summary>NumPy's <c>...</c>: as many whole dimensions as the other selectors leave (at most one per view).</summary>
    public static Slice Ellipsis => new(Marker.Ellipsis);

    /// <summary>NumPy's <c>newaxis</c>: inserts a dimension of length 1; selects no dimension of the array.</summary>
    public static Slice NewAxis => new(Marker.NewAxis);

    /// <summary>True for <see cref="Ellipsis"/>.</summary>
    public bool IsEllipsis => _marker == Marker.Ellipsis;

    /// <summary>True for <see cref="NewAxis"/>.</summary>
    public bool IsNewAxis => _marker == Marker.NewAxis;

    /// <summary>The whole dimension backwards, <c>::-1</c>.</summary>
    public static Slice Reversed => new(null, null, -1);

    /// <summary>A single index (negative counts from the end); the dimension disappears from the view.</summary>
    public static Slice At(long index) => new(index);

    /// <summary>A single index; see <see cref="At"/>.</summary>
    public static implicit operator Slice(long index) => new(index);

    /// <summary>A range with step 1; <c>^k</c> counts from the end (<c>^0</c> is the end).</summary>
    public static implicit operator Slice(Range range) => FromRange(range);

    /// <summary>A range with step 1 from a <see cref="Range"/>.</summary>
    public static Slice FromRange(Range range)
    {
        // ^k → -k (NumPy's "from the end"); ^0 as start is the end itself (clamped), as stop "to the end".
        long? start = range.Start.IsFromEnd ? (range.Start.Value == 0 ? long.MaxValue : -(long)range.Start.Value) : range.Start.Value;
        long? stop = range.End.IsFromEnd ? (range.End.Value == 0 ? null : -(long)range.End.Value) : range.End.Value;
        return new Slice(start, stop);
    }

    /// <summary>True for a single index, false for a range.</summary>
    public bool IsIndex { get; }

    /// <summary>The single index (only when <see cref="IsIndex"/>).</summary>
    public long Index => IsIndex ? _index : throw new InvalidOperationException($"slice {this} is a range, not a single index");

    /// <summary>The range's start, null for "from the beginning" (ranges only).</summary>
    public long? Start => _start;

    /// <summary>The range's stop, null for "to the end" (ranges only).</summary>
    public long? Stop => _stop;

    /// <summary>The range's step, never 0 (1 for a single index).</summary>
    public long Step => _stepMinusOne + 1;

    /// <summary>NumPy notation: <c>3</c>, <c>1:5:2</c>, <c>::-1</c>, <c>:</c>, <c>...</c>, <c>newaxis</c>.</summary>
    public override string ToString()
    {
        if (IsEllipsis)
            return "...";
        if (IsNewAxis)
            return "newaxis";
        if (IsIndex)
            return _index.ToString(CultureInfo.InvariantCulture);
        var s = $"{_start?.ToString(CultureInfo.InvariantCulture)}:{_stop?.ToString(CultureInfo.InvariantCulture)}";
        return Step == 1 ? s : $"{s}:{Step.ToString(CultureInfo.InvariantCulture)}";
    }
}
