using Wcfs.Actors.Arrays;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Arrays;

public class SliceTests
{
    // (n, start, stop, step, selected) with "selected" printed by Python 3 for list(range(n))[start:stop:step],
    // the per-dimension semantics of NumPy basic slicing.
    private static readonly (long N, long? Start, long? Stop, long Step, string Selected)[] PythonCases =
    [
        (2, 9, 0, 100, ""),
        (2, 0, -9, -1, "0"),
        (5, -9, -2, -3, ""),
        (2, null, -2, -7, "1"),
        (2, 9, 9, -3, ""),
        (7, -1, 3, -7, "6"),
        (7, 9, 9, -2, ""),
        (0, 2, 0, 3, ""),
        (2, -3, 0, 4, ""),
        (2, -3, null, 7, "0"),
        (5, 0, -1, -1, ""),
        (2, -9, 9, 4, "0"),
        (7, 0, null, 2, "0,2,4,6"),
        (2, null, 9, 3, "0"),
        (2, 0, 0, 1, ""),
        (2, 2, -1, -3, ""),
        (2, 2, -1, 1, ""),
        (5, 2, -9, -1, "2,1,0"),
        (2, -1, -9, -4, "1"),
        (0, -9, null, -3, ""),
        (5, 9, -1, -100, ""),
        (7, 2, 3, 7, "2"),
        (0, -1, null, -1, ""),
        (7, 0, null, -2, "0"),
        (1, -9, -9, -100, ""),
        (0, -1, -9, -2, ""),
        (0, -9, -2, -100, ""),
        (7, 2, 0, -3, "2"),
        (5, -1, 0, 100, ""),
        (0, -9, -1, 100, ""),
        (5, null, -9, 100, ""),
        (1, -3, null, -3, ""),
        (0, null, -2, 7, ""),
        (0, null, -9, -1, ""),
        (1, 0, null, 3, "0"),
        (0, null, 0, -1, ""),
        (1, -3, -1, 4, ""),
        (2, -9, 3, -2, ""),
        (1, 0, -1, 3, ""),
        (2, -3, 9, 2, "0"),
        (1, -1, 0, -100, ""),
        (1, null, -9, 100, ""),
        (1, -9, -1, 2, ""),
        (0, -9, -9, -1, ""),
        (0, 2, 3, 100, ""),
        (5, -3, 9, 7, "2"),
        (2, 0, 9, -2, ""),
        (0, 9, -2, -100, ""),
        (1, -1, 9, -100, ""),
        (2, -1, 0, 3, ""),
        (1, -1, 9, 4, "0"),
        (0, -1, -9, -1, ""),
        (2, null, -9, -4, "1"),
        (1, -9, 0, -1, ""),
        (1, -9, -1, 4, ""),
        (2, 0, -2, 7, ""),
        (7, null, null, -1, "6,5,4,3,2,1,0"),
        (5, null, null, -4, "4,0"),
        (5, 9, 0, -1, "4,3,2,1"),
        (7, -9, -1, 1, "0,1,2,3,4,5"),
        (2, 9, -1, 4, ""),
        (1, null, 9, 1, "0"),
        (7, null, 0, -4, "6,2"),
        (2, 2, 3, 7, ""),
        (1, 2, -9, 7, ""),
        (1, -3, 9, 4, "0"),
        (2, 2, 9, 1, ""),
        (2, 9, -9, 100, ""),
        (1, -1, 3, -100, ""),
        (5, -1, 0, -1, "4,3,2,1"),
        (2, 2, null, 4, ""),
        (1, -9, null, -4, ""),
        (2, -9, -1, 7, "0"),
        (5, -3, null, -4, "2"),
        (0, null, 9, 4, ""),
        (7, 2, null, -2, "2,0"),
        (0, 0, -9, -100, ""),
        (7, -9, 9, -4, ""),
        (0, -3, 9, -100, ""),
        (5, 2, -1, -1, ""),
        (5, -3, -9, 4, ""),
        (5, -3, 9, 1, "2,3,4"),
        (7, -1, 9, -3, ""),
        (7, 2, 9, -1, ""),
        (5, 9, -1, 100, ""),
        (5, 9, -9, 100, ""),
        (1, null, -1, -3, ""),
        (2, 0, -2, -7, ""),
        (0, 2, 0, -3, ""),
        (1, -3, -2, 1, ""),
        (0, 9, null, 2, ""),
        (0, -1, -2, 100, ""),
        (1, -3, -1, -4, ""),
        (5, -1, 3, -4, "4"),
        (7, -3, -9, -3, "4,1"),
        (1, -3, 3, -4, ""),
        (1, -3, -1, 1, ""),
        (0, 2, -2, 4, ""),
        (5, -1, -1, -2, ""),
        (0, 0, -9, 3, ""),
        (0, -1, 9, 1, ""),
        (2, 2, 3, -4, ""),
        (0, 0, -2, -4, ""),
        (5, 9, 9, 2, ""),
        (7, -1, -9, -7, "6"),
        (5, 0, -9, -4, "0"),
        (1, -1, -1, -3, ""),
        (7, 0, -9, -4, "0"),
        (0, null, null, 4, ""),
        (5, null, null, -3, "4,1"),
        (0, -9, 9, -2, ""),
        (7, -9, 3, 4, "0"),
        (0, -9, 9, 1, ""),
        (2, null, 0, 4, ""),
        (1, 0, -2, -4, "0"),
        (5, -1, 0, 1, ""),
        (2, 2, -1, 100, ""),
        (5, 0, 0, -4, ""),
        (7, -1, 3, -1, "6,5,4"),
        (0, 2, 0, 4, ""),
        (7, -9, -9, -1, ""),
        (2, -9, 3, -4, ""),
        (0, 9, 0, 2, ""),
        (5, -3, null, -1, "2,1,0"),
        (2, -3, -9, -3, ""),
        (0, 0, 3, 2, ""),
        (7, -3, 0, -4, "4"),
        (1, -9, -2, 7, ""),
        (1, -1, 3, 4, "0"),
        (7, 9, 9, 4, ""),
        (7, -3, -1, 3, "4"),
        (0, 9, -2, 2, ""),
        (7, null, null, 2, "0,2,4,6"),
        (7, -1, 9, -4, ""),
        (0, 0, null, 3, ""),
        (0, 9, 0, -4, ""),
        (2, null, -1, 100, "0"),
        (0, 0, -9, -3, ""),
        (1, 0, 0, 7, ""),
        (1, -9, -1, -2, ""),
        (5, 9, -2, -1, "4"),
        (0, 2, -2, 2, ""),
        (2, 2, 0, -100, "1"),
        (1, 9, 9, 7, ""),
        (5, null, -9, -100, "4"),
        (7, -3, 3, -7, "4"),
        (2, null, -1, -100, ""),
        (5, -9, -2, 1, "0,1,2"),
        (0, -1, -2, 4, ""),
        (0, 0, 9, -3, ""),
    ];

    private static long[] Selected(ViewGeometry g) =>
        Enumerable.Range(0, (int)g.Length).Select(j => g.ByteOffset + j * g.ByteStrides[0]).ToArray();

    [Fact]
    public void Each_dimension_selects_what_python_list_slicing_selects()
    {
        foreach (var (n, start, stop, step, selected) in PythonCases)
        {
            var expected = selected.Length == 0 ? [] : selected.Split(',').Select(long.Parse).ToArray();
            var g = ArrayLayout.Create([n], ArrayOrder.C, 1).Slice(new Slice(start, stop, step));
            var what = $"list(range({n}))[{new Slice(start, stop, step)}]";
            Assert.True(expected.SequenceEqual(Selected(g)), $"{what}: expected [{selected}], view selects [{string.Join(",", Selected(g))}]");
            Assert.True(expected.SequenceEqual(ReferenceArray.SelectRange(n, start, stop, step)), $"{what}: the test reference disagrees with Python");
        }
    }

    [Theory]
    [InlineData(5, long.MinValue, long.MaxValue, 1, "0,1,2,3,4")]
    [InlineData(5, long.MaxValue, long.MinValue, -1, "4,3,2,1,0")]
    [InlineData(5, null, null, long.MinValue, "4")]
    [InlineData(5, null, null, long.MaxValue, "0")]
    [InlineData(5, 3L, null, long.MinValue, "3")]
    [InlineData(0, null, null, long.MinValue, "")]
    public void Extreme_starts_stops_and_steps_clamp_without_overflow(long n, long? start, long? stop, long step, string selected)
    {
        var expected = selected.Length == 0 ? [] : selected.Split(',').Select(long.Parse).ToArray();
        var g = ArrayLayout.Create([n], ArrayOrder.C, 8).Slice(new Slice(start, stop, step));
        Assert.Equal(expected, Selected(g).Select(b => b / 8));
    }

    [Fact]
    public void A_zero_step_is_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => new Slice(0, 5, 0));
        Assert.Contains("step cannot be zero", e.Message);
    }

    [Theory]
    [InlineData(4, 4)]
    [InlineData(4, -5)]
    [InlineData(0, 0)]
    [InlineData(1, long.MinValue)]
    public void A_single_index_outside_the_dimension_is_an_IndexOutOfRangeException_naming_the_axis(long n, long index)
    {
        var layout = ArrayLayout.Create([3, n], ArrayOrder.C, 8);
        var e = Assert.Throws<IndexOutOfRangeException>(() => layout.Slice(Slice.All, index));
        Assert.Equal($"index {index} is out of bounds for axis 1 with size {n}", e.Message);
    }

    [Fact]
    public void Negative_single_indices_count_from_the_end_and_drop_the_dimension()
    {
        var layout = ArrayLayout.For<double>([3, 4]);
        var g = layout.Slice(-1, -4);
        Assert.Empty(g.Shape);
        Assert.Equal(1, g.Length);
        Assert.Equal((2 * 4 + 0) * 8, g.ByteOffset);
    }

    [Fact]
    public void More_selectors_than_dimensions_are_rejected()
    {
        var e = Assert.Throws<ArgumentException>(() => ArrayLayout.For<int>([3, 4]).Slice(0, 0, 0));
        Assert.Contains("too many indices for array: array is 2-dimensional, but 3 were indexed", e.Message);
    }

    [Fact]
    public void Fewer_selectors_than_dimensions_take_the_rest_whole()
    {
        var layout = ArrayLayout.For<int>([3, 4, 5]);
        Assert.Equal(layout.Slice(1, Slice.All, Slice.All), layout.Slice(1));
        Assert.Equal([4L, 5], layout.Slice(1).Shape.ToArray());
        Assert.Equal(layout.Full, layout.Slice());
    }

    [Theory]
    [InlineData("1..^1", "1,2,3")]
    [InlineData("^2..", "3,4")]
    [InlineData("..", "0,1,2,3,4")]
    [InlineData("^0..", "")]
    [InlineData("..^0", "0,1,2,3,4")]
    [InlineData("3..1", "")]
    public void A_csharp_range_selects_like_the_same_python_slice(string text, string selected)
    {
        var parts = text.Split("..");
        static Index Parse(string s, bool start) =>
            s.Length == 0 ? (start ? Index.Start : Index.End) : s[0] == '^' ? Index.FromEnd(int.Parse(s[1..])) : Index.FromStart(int.Parse(s));
        Slice slice = new Range(Parse(parts[0], true), Parse(parts[1], false));
        var expected = selected.Length == 0 ? [] : selected.Split(',').Select(long.Parse).ToArray();
        Assert.Equal(expected, Selected(ArrayLayout.Create([5], ArrayOrder.C, 1).Slice(slice)));
    }

    [Fact]
    public void Slices_print_in_numpy_notation()
    {
        Assert.Equal(":", Slice.All.ToString());
        Assert.Equal("::-1", Slice.Reversed.ToString());
        Assert.Equal("1:5:2", new Slice(1, 5, 2).ToString());
        Assert.Equal("-3", Slice.At(-3).ToString());
        Assert.Equal(1, default(Slice).Step);
        Assert.False(default(Slice).IsIndex);
        Assert.Throws<InvalidOperationException>(() => Slice.All.Index);
    }

    [Fact]
    public void An_ellipsis_stands_for_the_dimensions_the_other_selectors_leave()
    {
        var l = ArrayLayout.For<int>([2, 3, 4, 5]);
        Assert.Equal(l.Slice(Slice.All, Slice.All, Slice.All, 1), l.Slice(Slice.Ellipsis, 1));
        Assert.Equal(l.Slice(1), l.Slice(1, Slice.Ellipsis));
        Assert.Equal(l.Slice(0, Slice.All, new Slice(1, 3), 2), l.Slice(0, Slice.Ellipsis, new Slice(1, 3), 2));
        Assert.Equal(l.Full, l.Slice(Slice.Ellipsis));
        Assert.Equal(l.Slice(0, 1, 2, 3), l.Slice(0, 1, 2, 3, Slice.Ellipsis));
        Assert.Equal([2L, 3, 4], l.Slice(Slice.Ellipsis, -1).Shape.ToArray());
        var e = Assert.Throws<ArgumentException>(() => l.Slice(Slice.Ellipsis, 0, Slice.Ellipsis));
        Assert.Contains("single ellipsis", e.Message);
        Assert.Throws<ArgumentException>(() => l.Slice(0, 0, 0, 0, 0, Slice.Ellipsis));
    }

    [Fact]
    public void A_new_axis_inserts_a_dimension_of_length_1()
    {
        var layout = ArrayLayout.For<double>([3, 4]);
        using var block = new NativeBlock(layout.ByteSize);
        ReferenceArray.Counting([3, 4]).WriteTo(layout, block);

        using var column = ArrayView<double>.Create(layout, block.Memory, Slice.NewAxis, Slice.All, Slice.NewAxis, 2);
        Assert.Equal([1L, 3, 1], column.Shape.ToArray());
        Assert.Equal([3.0, 7, 11], column.ToArray());
        Assert.Equal(7, column[0, 1, 0]);
        Assert.False(column.IsContiguous);
        Assert.Equal([1, 3, 1], column.AsTensorSpan().Lengths.ToArray());

        using var row = ArrayView<double>.Create(layout, block.Memory, 1, Slice.NewAxis);
        Assert.Equal([1L, 4], row.Shape.ToArray()); // numpy: a[1, None].shape == (1, 4)
        Assert.Equal([5.0, 6, 7, 8], row.AsSpan().ToArray());

        Assert.Equal([1L], layout.Slice(Slice.NewAxis, 0, 0).Shape.ToArray()); // new axes select no dimension
        Assert.Equal("...", Slice.Ellipsis.ToString());
        Assert.Equal("newaxis", Slice.NewAxis.ToString());
        Assert.False(Slice.NewAxis.IsIndex);
    }
}
