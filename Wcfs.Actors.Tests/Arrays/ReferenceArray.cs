// The reference for array semantics: a plain managed N-d array (values in C order of the logical
// indices) and NumPy slicing done by listing the selected indices of every dimension.
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Storage;

namespace Wcfs.Actors.Tests.Arrays;

internal sealed class ReferenceArray
{
    public ReferenceArray(long[] shape, double[] values)
    {
        Shape = shape;
        Values = values;
    }

    public long[] Shape { get; }

    /// <summary>Values in C order of the logical indices.</summary>
    public double[] Values { get; }

    /// <summary>An array whose element at C-flat index k is k + 1 (so zeros mean "not written").</summary>
    public static ReferenceArray Counting(long[] shape)
    {
        long n = 1;
        foreach (var d in shape)
            n *= d;
        return new ReferenceArray(shape, Enumerable.Range(1, (int)n).Select(i => (double)i).ToArray());
    }

    /// <summary>The C-flat index of logical indices.</summary>
    public long FlatIndex(ReadOnlySpan<long> index)
    {
        long k = 0;
        for (var d = 0; d < Shape.Length; d++)
            k = k * Shape[d] + index[d];
        return k;
    }

    /// <summary>Writes the values into memory laid out as <paramref name="layout"/> (C or Fortran).</summary>
    public unsafe void WriteTo(ArrayLayout layout, NativeBlock block)
    {
        foreach (var index in AllIndices(Shape))
        {
            long offset = 0;
            for (var d = 0; d < index.Length; d++)
                offset += index[d] * layout.ByteStrides[d];
            block.At<double>(offset) = Values[FlatIndex(index)];
        }
    }

    /// <summary>The indices of the base array selected per view dimension, plus the fixed indices of
    /// dropped dimensions: element v of the view is the base element (sel[0][v..], ...).</summary>
    public static long[][] Select(long[] shape, Slice[] ranges)
    {
        var result = new long[shape.Length][];
        for (var d = 0; d < shape.Length; d++)
        {
            var n = shape[d];
            var r = d < ranges.Length ? ranges[d] : Slice.All;
            if (r.IsIndex)
            {
                var i = r.Index < 0 ? r.Index + n : r.Index;
                if (i < 0 || i >= n)
                    throw new IndexOutOfRangeException();
                result[d] = [i];
                continue;
            }
            result[d] = SelectRange(n, r.Start, r.Stop, r.Step);
        }
        return result;
    }

    /// <summary>Python's <c>list(range(n))[start:stop:step]</c>, written out as the language reference states it.</summary>
    public static long[] SelectRange(long n, long? start, long? stop, long step)
    {
        var list = new List<long>();
        if (step > 0)
        {
            var a = start is { } s ? Math.Clamp(s < 0 ? s + n : s, 0, n) : 0;
            var b = stop is { } e ? Math.Clamp(e < 0 ? e + n : e, 0, n) : n;
            for (Int128 i = a; i < b; i += step) // Int128: i + step may overflow a long
                list.Add((long)i);
        }
        else
        {
            var a = start is { } s ? Math.Clamp(s < 0 ? s + n : s, -1, n - 1) : n - 1;
            var b = stop is { } e ? Math.Clamp(e < 0 ? e + n : e, -1, n - 1) : -1;
            for (Int128 i = a; i > b; i += step)
                list.Add((long)i);
        }
        return [.. list];
    }

    /// <summary>The view's expected shape (dropped dimensions omitted) and its values in C order.</summary>
    public (long[] Shape, double[] Values) View(Slice[] ranges)
    {
        var sel = Select(Shape, ranges);
        var shape = new List<long>();
        for (var d = 0; d < Shape.Length; d++)
        {
            if (!(d < ranges.Length && ranges[d].IsIndex))
                shape.Add(sel[d].Length);
        }
        var values = new List<double>();
        var counts = sel.Select(s => (long)s.Length).ToArray();
        foreach (var pick in AllIndices(counts))
        {
            var index = new long[Shape.Length];
            for (var d = 0; d < index.Length; d++)
                index[d] = sel[d][pick[d]];
            values.Add(Values[FlatIndex(index)]);
        }
        return ([.. shape], [.. values]);
    }

    /// <summary>Every index of a shape in C order (one empty index for a 0-d shape).</summary>
    public static IEnumerable<long[]> AllIndices(long[] shape)
    {
        if (shape.Any(n => n == 0))
            yield break;
        var index = new long[shape.Length];
        while (true)
        {
            yield return (long[])index.Clone();
            var d = shape.Length - 1;
            for (; d >= 0; d--)
            {
                if (++index[d] < shape[d])
                    break;
                index[d] = 0;
            }
            if (d < 0)
                yield break;
        }
    }

    /// <summary>Every index of a shape in Fortran order.</summary>
    public static IEnumerable<long[]> AllIndicesFortran(long[] shape) =>
        AllIndices([.. shape.Reverse()]).Select(i => i.Reverse().ToArray());

    public static ArrayOrder[] Orders => [ArrayOrder.C, ArrayOrder.Fortran];
}
