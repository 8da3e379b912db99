using System.Runtime.InteropServices;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Arrays;

public class ArrayGrowthTests
{
    [Fact]
    public void Appending_to_a_C_array_grows_axis_0_and_writes_only_the_new_rows()
    {
        var layout = ArrayLayout.For<double>([2, 3]);
        var plan = ArrayGrowth.Append(layout, [4, 3]);
        Assert.Equal(ArrayLayout.For<double>([6, 3]), plan.NewLayout);
        Assert.Equal(new ByteRange(48, 48 + 4 * 3 * 8 - 1), plan.Write);
    }

    [Fact]
    public void Appending_to_a_fortran_array_grows_the_last_axis()
    {
        var layout = ArrayLayout.For<int>([2, 3, 5], ArrayOrder.Fortran);
        Assert.Equal(2, ArrayGrowth.AppendAxis(layout));
        var plan = ArrayGrowth.Append(layout, [2, 3, 1]);
        Assert.Equal([2L, 3, 6], plan.NewLayout.Shape.ToArray());
        Assert.Equal(ArrayOrder.Fortran, plan.NewLayout.Order);
        Assert.Equal(ByteRange.FromOffset(2 * 3 * 5 * 4, 2 * 3 * 4), plan.Write);
    }

    [Theory]
    [InlineData(ArrayOrder.C, new long[] { 4, 2 }, "dimension 1 is 2, must be 3")]
    [InlineData(ArrayOrder.Fortran, new long[] { 3, 3 }, "dimension 0 is 3, must be 2")]
    [InlineData(ArrayOrder.C, new long[] { 4 }, "cannot append a 1-d chunk [4] to a 2-d array [2, 3]")]
    [InlineData(ArrayOrder.C, new long[] { -1, 3 }, "chunk shape[0] is -1")]
    public void A_mismatched_chunk_is_an_ArgumentException_naming_the_dimension(ArrayOrder order, long[] chunk, string message)
    {
        var layout = ArrayLayout.For<double>([2, 3], order);
        var e = Assert.Throws<ArgumentException>(() => ArrayGrowth.Append(layout, chunk));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Appending_elements_takes_whole_slices_of_the_other_dimensions()
    {
        var c = ArrayLayout.For<float>([2, 3, 4]);
        Assert.Equal([4L, 3, 4], ArrayGrowth.Append(c, 24).NewLayout.Shape.ToArray());
        var e = Assert.Throws<ArgumentException>(() => ArrayGrowth.Append(c, 13));
        Assert.Contains("not a multiple of 12, the size of one slice", e.Message);

        var f = ArrayLayout.For<float>([2, 3, 4], ArrayOrder.Fortran);
        Assert.Equal([2L, 3, 5], ArrayGrowth.Append(f, 6).NewLayout.Shape.ToArray());

        var line = ArrayLayout.For<byte>([7]);
        var plan = ArrayGrowth.Append(line, 5);
        Assert.Equal([12L], plan.NewLayout.Shape.ToArray());
        Assert.Equal(new ByteRange(7, 11), plan.Write);
        Assert.Equal(ByteRange.Empty, ArrayGrowth.Append(line, 0).Write);
    }

    [Fact]
    public void An_array_whose_slices_are_empty_takes_only_empty_appends()
    {
        var layout = ArrayLayout.For<double>([5, 0]);
        Assert.Equal(layout, ArrayGrowth.Append(layout, 0).NewLayout);
        Assert.Throws<ArgumentException>(() => ArrayGrowth.Append(layout, 3));
        Assert.Equal([9L, 0], ArrayGrowth.Append(layout, [4, 0]).NewLayout.Shape.ToArray());
    }

    [Fact]
    public void A_0d_array_cannot_be_appended_to()
    {
        var e = Assert.Throws<ArgumentException>(() => ArrayGrowth.Append(ArrayLayout.For<double>([]), 1));
        Assert.Contains("cannot append to a 0-d array", e.Message);
    }

    [Fact]
    public void An_append_past_the_size_limit_is_refused()
    {
        var layout = ArrayLayout.For<double>([long.MaxValue / 8]);
        Assert.Throws<ArgumentException>(() => ArrayGrowth.Append(layout, 1));
        Assert.Throws<ArgumentException>(() => ArrayGrowth.Append(ArrayLayout.For<byte>([long.MaxValue]), [1]));
    }

    [Fact]
    public void Resizing_changes_only_the_shape_and_a_shrink_names_the_cut_off_bytes()
    {
        var layout = ArrayLayout.For<double>([4, 3]);
        var shrink = ArrayGrowth.Resize(layout, [2, 3]);
        Assert.Equal(ArrayLayout.For<double>([2, 3]), shrink.NewLayout);
        Assert.Equal(new ByteRange(48, 95), shrink.Zero);

        var grow = ArrayGrowth.Resize(layout, [10, 3]);
        Assert.True(grow.Zero.IsEmpty);
        Assert.Equal(240, grow.NewLayout.ByteSize);

        Assert.Equal([12L], ArrayGrowth.Resize(layout, [12]).NewLayout.Shape.ToArray()); // any rank, like numpy resize
        var e = Assert.Throws<ArgumentException>(() => ArrayGrowth.Resize(layout, [2, -3]));
        Assert.Contains("shape[1] is -3", e.Message);
    }

    [Fact]
    public void Shrinking_then_growing_shows_zeros_in_the_regrown_part()
    {
        // The file as memory: 10 rows of 3 doubles of capacity; the array uses the first rows.
        using var file = new NativeBlock(10 * 3 * 8);
        var layout = ArrayLayout.For<double>([4, 3]);
        ReferenceArray.Counting([4, 3]).WriteTo(layout, file);

        // Shrink to 2 rows: the owner zeroes the cut-off bytes, as the plan says.
        var shrink = ArrayGrowth.Resize(layout, [2, 3]);
        file.Bytes.Slice((int)shrink.Zero.First, (int)shrink.Zero.Count).Clear();

        // Grow to 5 rows: O(1), nothing written.
        var grow = ArrayGrowth.Resize(shrink.NewLayout, [5, 3]);
        Assert.True(grow.Zero.IsEmpty);
        using var view = ArrayView<double>.Create(grow.NewLayout, file.Memory);
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (double)i), view.Slice(new Slice(0, 2)).ToArray());
        Assert.All(view.Slice(new Slice(2, null)).ToArray(), x => Assert.Equal(0, x));
    }

    [Fact]
    public void Without_zeroing_the_cut_off_bytes_growing_again_would_show_old_data()
    {
        // The twin of the test above with the zeroing left out: the old rows come back.
        using var file = new NativeBlock(10 * 3 * 8);
        var layout = ArrayLayout.For<double>([4, 3]);
        ReferenceArray.Counting([4, 3]).WriteTo(layout, file);
        var shrink = ArrayGrowth.Resize(layout, [2, 3]);
        var grow = ArrayGrowth.Resize(shrink.NewLayout, [4, 3]);
        using var view = ArrayView<double>.Create(grow.NewLayout, file.Memory, new Slice(2, null));
        Assert.Equal(Enumerable.Range(7, 6).Select(i => (double)i), view.ToArray());
    }

    [Theory]
    [InlineData(ArrayOrder.C)]
    [InlineData(ArrayOrder.Fortran)]
    public void An_append_written_at_its_byte_range_extends_the_array_in_place(ArrayOrder order)
    {
        using var file = new NativeBlock(4 * 6 * 8);
        var layout = order == ArrayOrder.C ? ArrayLayout.For<double>([2, 6]) : ArrayLayout.For<double>([6, 2], ArrayOrder.Fortran);
        using (var before = ArrayView<double>.Create(layout, file.Memory))
            before.AsSpan().Fill(1);
        file.Bytes[(int)layout.ByteSize..].Fill(0xEE); // what lies past the array must not matter

        double[] chunk = [2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3]; // two slices in the array's memory order
        var plan = ArrayGrowth.Append(layout, chunk.Length);
        Assert.Equal(chunk.Length * 8, plan.Write.Count);
        MemoryMarshal.AsBytes(chunk.AsSpan()).CopyTo(file.Bytes.Slice((int)plan.Write.First));

        using var after = ArrayView<double>.Create(plan.NewLayout, file.Memory);
        if (order == ArrayOrder.C)
        {
            Assert.Equal([4L, 6], after.Shape.ToArray());
            Assert.Equal(3, after[3, 5]);
            Assert.Equal(2, after[2, 0]);
            Assert.Equal(1, after[1, 5]);
        }
        else
        {
            Assert.Equal([6L, 4], after.Shape.ToArray());
            Assert.Equal(3, after[5, 3]);
            Assert.Equal(2, after[0, 2]);
            Assert.Equal(1, after[5, 1]);
        }
    }
}
