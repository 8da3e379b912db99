using System.Runtime.CompilerServices;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Storage;
using Xunit;
using Xunit.Abstractions;

namespace Wcfs.Actors.Tests.Arrays;

/// <summary>Views of arrays in native memory compared with the same slicing of a plain managed array.</summary>
public class ArrayViewReferenceTests(ITestOutputHelper output)
{
    private const int Seed = 20261129;
    private const int RandomCases = 600;

    [Theory]
    [InlineData(ArrayOrder.C)]
    [InlineData(ArrayOrder.Fortran)]
    public void Fixed_slices_select_what_the_reference_selects(ArrayOrder order)
    {
        Slice[][] cases =
        [
            [],
            [1],
            [-1, 2],
            [Slice.All, 1],
            [new Slice(1, 3)],
            [new Slice(null, null, 2), new Slice(null, null, -1)],
            [Slice.Reversed, Slice.Reversed, Slice.Reversed],
            [new Slice(3, 0, -2), 0, new Slice(1, null)],
            [new Slice(5, 1)],                         // empty
            [new Slice(10, 20)],                       // empty, out of range
            [new Slice(-100, 100), new Slice(-100, 100, 3)],
            [0, 0, 0],                                 // 0-d view
            [Slice.All, new Slice(2, 3), Slice.All],   // a length-1 dimension
            [1, Slice.All, new Slice(null, null, -3)],
            [Slice.All, Slice.All, new Slice(null, null, 2)], // C: strides TensorSpan rejects
            [new Slice(null, null, 3)],                       // Fortran: strides TensorSpan rejects
        ];
        using var block = new NativeBlock(4 * 3 * 5 * 8);
        var layout = ArrayLayout.For<double>([4, 3, 5], order);
        var reference = ReferenceArray.Counting([4, 3, 5]);
        reference.WriteTo(layout, block);
        foreach (var ranges in cases)
            CheckView(layout, block, reference, ranges, $"{order} [{string.Join(", ", ranges)}]");
    }

    [Fact]
    public void Random_slices_of_1_to_4_dimensional_arrays_select_what_the_reference_selects()
    {
        output.WriteLine($"seed {Seed}, {RandomCases} cases");
        var rng = new Random(Seed);
        int empty = 0, negative = 0, outOfRange = 0, contiguous = 0, notTensor = 0;
        for (var c = 0; c < RandomCases; c++)
        {
            var rank = rng.Next(1, 5);
            var shape = Enumerable.Range(0, rank).Select(_ => (long)(rng.Next(25) == 0 ? 0 : rng.Next(1, 8))).ToArray();
            var order = rng.Next(2) == 0 ? ArrayOrder.C : ArrayOrder.Fortran;
            var ranges = Enumerable.Range(0, rng.Next(rank + 1) == 0 ? 0 : rank).Select(d => RandomSlice(rng, shape[d])).ToArray();
            var what = $"seed {Seed} case {c}: {order} shape [{string.Join(", ", shape)}] [{string.Join(", ", ranges)}]";

            var layout = ArrayLayout.For<double>(shape, order);
            using var block = new NativeBlock(layout.ByteSize);
            var reference = ReferenceArray.Counting(shape);
            reference.WriteTo(layout, block);

            bool referenceThrows;
            try
            {
                ReferenceArray.Select(shape, ranges);
                referenceThrows = false;
            }
            catch (IndexOutOfRangeException)
            {
                referenceThrows = true;
            }
            if (referenceThrows)
            {
                outOfRange++;
                Assert.Throws<IndexOutOfRangeException>(() => ArrayView<double>.Create(layout, block.Memory, ranges));
                continue;
            }
            ViewGeometry g;
            try
            {
                g = CheckView(layout, block, reference, ranges, what);
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{what}: {e}");
            }
            // An ellipsis anywhere among the selectors is the whole dimensions they leave.
            var at = rng.Next(ranges.Length + 1);
            Slice[] withEllipsis = [.. ranges[..at], Slice.Ellipsis, .. ranges[at..]];
            Slice[] expanded = [.. ranges[..at], .. Enumerable.Repeat(Slice.All, rank - ranges.Length), .. ranges[at..]];
            Assert.True(layout.Slice(expanded) == layout.Slice(withEllipsis), $"{what}: ellipsis at {at}");
            empty += g.Length == 0 ? 1 : 0;
            negative += g.HasNegativeStrides ? 1 : 0;
            contiguous += g.IsContiguous && g.Length > 1 ? 1 : 0;
            notTensor += !g.FitsTensorSpan && !g.HasNegativeStrides ? 1 : 0;
        }
        output.WriteLine($"counts: empty {empty}, negative strides {negative}, out of range {outOfRange}, contiguous {contiguous}, rejected by TensorSpan {notTensor}");
        // The generator must reach every kind of view, or the test proves less than its name says.
        Assert.True(empty > 20 && negative > 100 && outOfRange > 10 && contiguous > 20 && notTensor > 0, $"seed {Seed}: too few cases of a kind: empty {empty}, negative {negative}, out of range {outOfRange}, contiguous {contiguous}, rejected by TensorSpan {notTensor}");
    }

    private static Slice RandomSlice(Random rng, long n)
    {
        long[] steps = [1, 1, 2, 3, -1, -1, -2, -3, 7, -7];
        var step = steps[rng.Next(steps.Length)];
        long? Bound() => rng.Next(2) == 0 ? null : rng.Next(-(int)n - 3, (int)n + 4);
        return rng.Next(10) switch
        {
            < 2 => rng.Next(-(int)n - 1, (int)n + 1),   // a single index, sometimes out of range
            < 6 => new Slice(null, null, step),          // the whole dimension with a step
            _ => new Slice(Bound(), Bound(), step),      // anything, often empty
        };
    }

    /// <summary>Checks every way into the view against the reference; returns the view's geometry.</summary>
    private static unsafe ViewGeometry CheckView(ArrayLayout layout, NativeBlock block, ReferenceArray reference, Slice[] ranges, string what)
    {
        var (shape, values) = reference.View(ranges);
        // The byte offset of every view element in C order of the view's indices, from the reference's
        // selection and the layout's strides alone.
        var sel = ReferenceArray.Select(reference.Shape, ranges);
        var offsets = ReferenceArray.AllIndices(sel.Select(s => (long)s.Length).ToArray())
            .Select(pick => Enumerable.Range(0, sel.Length).Sum(d => sel[d][pick[d]] * layout.ByteStrides[d]))
            .ToArray();

        using var view = ArrayView<double>.Create(layout, block.Memory, ranges);
        var g = view.Geometry;
        Assert.True(shape.SequenceEqual(view.Shape.ToArray()), $"{what}: shape [{string.Join(",", view.Shape.ToArray())}], expected [{string.Join(",", shape)}]");
        Assert.Equal(values.Length, view.Length);
        Assert.True(values.SequenceEqual(view.ToArray()), $"{what}: strided values differ");

        // Element refs point at the reference's element.
        var k = 0;
        foreach (var index in ReferenceArray.AllIndices(shape))
        {
            var address = (nint)Unsafe.AsPointer(ref view[index]);
            Assert.True(address == block.Address + (nint)offsets[k], $"{what}: element [{string.Join(",", index)}] at byte {address - block.Address}, expected {offsets[k]}");
            k++;
        }

        // The bytes the view touches.
        var bytes = offsets.Length == 0 ? ByteRange.Empty : new ByteRange(offsets.Min(), offsets.Max() + 7);
        Assert.True(bytes == g.Bytes, $"{what}: bytes {g.Bytes}, expected {bytes}");

        // Contiguity: offsets rise by one element in C (or Fortran) order of the view's indices.
        var fortranOffsets = ReferenceArray.AllIndicesFortran(shape).Select(i => offsets[FlatC(shape, i)]).ToArray();
        static bool Dense(long[] o) => o.Select((x, i) => x - o[0] == i * 8L).All(b => b);
        var cDense = Dense(offsets);
        var fDense = Dense(fortranOffsets);
        Assert.True(cDense == g.IsCContiguous, $"{what}: IsCContiguous {g.IsCContiguous}, expected {cDense}");
        Assert.True(fDense == g.IsFortranContiguous, $"{what}: IsFortranContiguous {g.IsFortranContiguous}, expected {fDense}");
        if (cDense || fDense)
        {
            var memoryOrder = cDense ? values : fortranOffsets.Select(o => values[Array.IndexOf(offsets, o)]).ToArray();
            Assert.True(memoryOrder.SequenceEqual(view.AsSpan().ToArray()), $"{what}: span values differ");
        }
        else
        {
            Assert.Throws<InvalidOperationException>(() => view.AsSpan());
        }

        // TensorSpan for non-negative strides, in C order of the view's indices.
        var negative = Enumerable.Range(0, shape.Length).Any(d => shape[d] > 1 && g.ByteStrides[d] < 0) && values.Length > 0;
        Assert.Equal(negative, g.HasNegativeStrides);
        if (!g.FitsTensorSpan)
        {
            Assert.Throws<InvalidOperationException>(() => view.AsTensorSpan());
            // The refusal is needed: TensorSpan itself rejects these lengths and strides.
            if (!negative)
            {
                var lengths = shape.Select(n => (nint)n).ToArray();
                var strides = g.ElementStrides.Select((s, d) => shape[d] <= 1 ? 0 : (nint)s).ToArray();
                var data = new double[(int)(bytes.Count / 8)];
                Assert.Throws<ArgumentException>(() => new System.Numerics.Tensors.TensorSpan<double>(data, lengths, strides));
            }
        }
        else
        {
            var t = view.AsTensorSpan();
            var lengths = shape.Length == 0 ? [1L] : shape;
            Assert.True(lengths.SequenceEqual(t.Lengths.ToArray().Select(x => (long)x)), $"{what}: tensor lengths differ");
            var tensorValues = new List<double>();
            foreach (var x in t)
                tensorValues.Add(x);
            Assert.True(values.SequenceEqual(tensorValues), $"{what}: tensor values differ");
            // Writes through the TensorSpan land on the reference's elements, in C order of the view.
            var i = 0;
            foreach (ref var x in t)
                x = -1 - i++;
            ExpectWritten(block, offsets, what + " via TensorSpan");
            reference.WriteTo(layout, block);
        }
        // The same through the strided span.
        var j = 0;
        foreach (ref var x in view.AsStrided())
            x = -1 - j++;
        ExpectWritten(block, offsets, what + " via StridedSpan");
        reference.WriteTo(layout, block);

        // Memory holding only the view's bytes is enough.
        using var only = new NativeBlock(bytes.Count);
        if (!bytes.IsEmpty)
            block.Bytes.Slice((int)bytes.First, (int)bytes.Count).CopyTo(only.Bytes);
        using var narrow = ArrayView<double>.Create(layout, new ArrayMemory(only.Address, bytes.First, bytes.Count), ranges);
        Assert.True(values.SequenceEqual(narrow.ToArray()), $"{what}: values over the view's bytes only differ");
        return g;
    }

    /// <summary>The element at offsets[k] holds -1 - k.</summary>
    private static void ExpectWritten(NativeBlock block, long[] offsets, string what)
    {
        for (var k = 0; k < offsets.Length; k++)
        {
            var x = block.At<double>(offsets[k]);
            Assert.True(x == -1 - k, $"{what}: element {k} at byte {offsets[k]} holds {x}, expected {-1 - k}");
        }
    }

    private static int FlatC(long[] shape, long[] index)
    {
        long k = 0;
        for (var d = 0; d < shape.Length; d++)
            k = k * shape[d] + index[d];
        return (int)k;
    }
}
