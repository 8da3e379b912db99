// ArrayGrowth - the shape arithmetic of ZBigArray<T>.Append and Resize; see ArrayLayout.cs invariant (5).
//
// Append grows the array along its slowest axis (axis 0 for C order, the last axis for Fortran), so
// the appended elements are exactly the bytes [old ByteSize, new ByteSize) of the file, in the array's
// memory order: writing them is O(appended). The other dimensions must match.
//
// Resize is numpy.ndarray.resize: a new shape over the same bytes in memory order (any rank); the
// first min(old, new) elements keep their bytes, the rest of a grown array reads as zeros. It changes
// only the shape: O(1). So that "shrink, then grow" shows zeros in the regrown part and not the old
// data, the file past ByteSize must read as zeros (invariant (5)): a shrinking resize returns the
// cut-off bytes [new ByteSize, old ByteSize), which the owner zeroes in the same transaction (whole
// blocks in that range can be deleted instead of written).
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Arrays;

/// <summary>What an append does: the new layout and the bytes of the file to write, in the array's memory order.</summary>
/// <param name="NewLayout">The layout after the append.</param>
/// <param name="Write">The bytes to write: [old ByteSize, new ByteSize).</param>
public sealed record AppendPlan(ArrayLayout NewLayout, ByteRange Write);

/// <summary>What a resize does: the new layout and the cut-off bytes to zero (empty unless shrinking).</summary>
/// <param name="NewLayout">The layout after the resize.</param>
/// <param name="Zero">The bytes [new ByteSize, old ByteSize) that must read as zeros afterwards.</param>
public sealed record ResizePlan(ArrayLayout NewLayout, ByteRange Zero);

/// <summary>The shape arithmetic of Append and Resize.</summary>
public static class ArrayGrowth
{
    /// <summary>The axis Append grows: 0 for C order, the last for Fortran order.</summary>
    /// <exception cref="ArgumentException">A 0-d array has no axis to grow.</exception>
    public static int AppendAxis(ArrayLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        if (layout.Rank == 0)
            throw new ArgumentException("cannot append to a 0-d array: it has no axis to grow", nameof(layout));
        return layout.Order == ArrayOrder.C ? 0 : layout.Rank - 1;
    }

    /// <summary>Appends a chunk of shape <paramref name="chunkShape"/> along <see cref="AppendAxis"/>.</summary>
    /// <exception cref="ArgumentException">The chunk's rank differs, one of its other dimensions does not
    /// match (the message names it), a dimension is negative, or the result is too big.</exception>
    public static AppendPlan Append(ArrayLayout layout, ReadOnlySpan<long> chunkShape)
    {
        var axis = AppendAxis(layout);
        if (chunkShape.Length != layout.Rank)
            throw new ArgumentException($"cannot append a {chunkShape.Length}-d chunk {ArrayLayout.Format(chunkShape)} to a {layout.Rank}-d array {ArrayLayout.Format(layout.Shape.AsSpan())}", nameof(chunkShape));
        for (var d = 0; d < chunkShape.Length; d++)
        {
            if (chunkShape[d] < 0)
                throw new ArgumentException($"chunk shape[{d}] is {chunkShape[d]}: dimensions must be >= 0", nameof(chunkShape));
            if (d != axis && chunkShape[d] != layout.Shape[d])
                throw new ArgumentException(
                    $"cannot append chunk {ArrayLayout.Format(chunkShape)} to array {ArrayLayout.Format(layout.Shape.AsSpan())} ({layout.Order} order grows axis {axis}): dimension {d} is {chunkShape[d]}, must be {layout.Shape[d]}",
                    nameof(chunkShape));
        }
        return Grow(layout, axis, chunkShape[axis]);
    }

    /// <summary>Appends <paramref name="elementCount"/> elements (e.g. of a <c>ReadOnlySpan&lt;T&gt;</c>): whole
    /// slices of the other dimensions along <see cref="AppendAxis"/>; any count for a 1-d array.</summary>
    /// <exception cref="ArgumentException">The count is negative or not a multiple of one slice's size.</exception>
    public static AppendPlan Append(ArrayLayout layout, long elementCount)
    {
        var axis = AppendAxis(layout);
        if (elementCount < 0)
            throw new ArgumentException($"element count {elementCount} is negative", nameof(elementCount));
        long slice = 1;
        for (var d = 0; d < layout.Rank; d++)
        {
            if (d != axis)
                slice *= layout.Shape[d]; // ≤ Length bound of invariant (2)
        }
        if (slice == 0)
        {
            if (elementCount != 0)
                throw new ArgumentException($"cannot append {elementCount} elements to array {ArrayLayout.Format(layout.Shape.AsSpan())}: its slices along axis {axis} hold no elements", nameof(elementCount));
            return new AppendPlan(layout, ByteRange.Empty);
        }
        if (elementCount % slice != 0)
            throw new ArgumentException(
                $"cannot append {elementCount} elements to array {ArrayLayout.Format(layout.Shape.AsSpan())} ({layout.Order} order grows axis {axis}): not a multiple of {slice}, the size of one slice",
                nameof(elementCount));
        return Grow(layout, axis, elementCount / slice);
    }

    /// <summary>Resizes to <paramref name="newShape"/> (any rank) in O(1); see the file header for the zeroing contract.</summary>
    /// <exception cref="ArgumentException">A dimension is negative (the message names it) or the result is too big.</exception>
    public static ResizePlan Resize(ArrayLayout layout, ReadOnlySpan<long> newShape)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var next = layout.WithShape(newShape);
        var zero = next.ByteSize < layout.ByteSize
            ? new ByteRange(next.ByteSize, layout.ByteSize - 1)
            : ByteRange.Empty;
        return new ResizePlan(next, zero);
    }

    private static AppendPlan Grow(ArrayLayout layout, int axis, long count)
    {
        var shape = layout.Shape.ToArray();
        if (count > long.MaxValue - shape[axis])
            throw new ArgumentException($"appending {count} along axis {axis} to array {ArrayLayout.Format(shape)} overflows the shape", nameof(count));
        shape[axis] += count;
        var next = layout.WithShape(shape);
        return new AppendPlan(next, ByteRange.FromOffset(layout.ByteSize, next.ByteSize - layout.ByteSize));
    }
}
