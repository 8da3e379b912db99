using System.Numerics.Tensors;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Arrays;

public class ArrayViewTests
{
    /// <summary>A C-order 4×6 array of doubles 1..24 in a native block.</summary>
    private static (ArrayLayout Layout, NativeBlock Block) Matrix4x6(ArrayOrder order = ArrayOrder.C)
    {
        var layout = ArrayLayout.For<double>([4, 6], order);
        var block = new NativeBlock(layout.ByteSize);
        ReferenceArray.Counting([4, 6]).WriteTo(layout, block);
        return (layout, block);
    }

    [Fact]
    public void Writes_through_a_TensorSpan_land_in_the_memory_under_the_view()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory, new Slice(1, 3), new Slice(0, null, 2));
        var t = view.AsTensorSpan();
        Assert.Equal([2, 3], t.Lengths.ToArray());
        Assert.Equal([6, 2], t.Strides.ToArray());
        t[1, 2] = -1;                      // base element [2, 4]
        t.Fill(0);                         // rows 1..2, columns 0, 2, 4
        Assert.Equal(0, block.At<double>((1 * 6 + 0) * 8));
        Assert.Equal(0, block.At<double>((2 * 6 + 4) * 8));
        Assert.Equal(1 * 6 + 1 + 1, block.At<double>((1 * 6 + 1) * 8)); // column 1 untouched
        Assert.Equal(3 * 6 + 0 + 1, block.At<double>((3 * 6 + 0) * 8)); // row 3 untouched
    }

    [Fact]
    public void A_TensorSpan_of_a_fortran_array_uses_its_strides()
    {
        var (layout, block) = Matrix4x6(ArrayOrder.Fortran);
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory);
        var t = view.AsTensorSpan();
        Assert.Equal([1, 4], t.Strides.ToArray());
        Assert.Equal(2 * 6 + 5 + 1, t[2, 5]);
        t[2, 5] = 99;
        Assert.Equal(99, block.At<double>((2 + 5 * 4) * 8));
    }

    [Fact]
    public void A_negative_step_gives_a_strided_span_and_no_TensorSpan()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory, Slice.Reversed, new Slice(null, null, -2));
        var e = Assert.Throws<InvalidOperationException>(() => view.AsTensorSpan());
        Assert.Contains("use AsStrided()", e.Message);

        var s = view.AsStrided();
        Assert.Equal([4L, 3], s.Shape.ToArray());
        Assert.Equal([-6L, -2], s.Strides.ToArray());
        Assert.Equal(3 * 6 + 5 + 1, s[0, 0]);  // base [3, 5]
        Assert.Equal(0 * 6 + 1 + 1, s[-1, -1]); // base [0, 1]
        s[1, 1] = -7;                           // base [2, 3]
        Assert.Equal(-7, block.At<double>((2 * 6 + 3) * 8));
        Assert.Equal([24.0, 22, 20, 18, -7, 14], view.ToArray()[..6]);
    }

    [Fact]
    public void A_strided_view_TensorSpan_rejects_is_refused_with_a_pointer_to_AsStrided()
    {
        using var block = new NativeBlock(6 * 5 * 8);
        var layout = ArrayLayout.For<double>([6, 5]);
        using var view = ArrayView<double>.Create(layout, block.Memory, Slice.All, new Slice(null, null, 2));
        Assert.False(view.Geometry.FitsTensorSpan);
        var e = Assert.Throws<InvalidOperationException>(() => view.AsTensorSpan());
        Assert.Contains("use AsStrided()", e.Message);
        view.AsStrided().Fill(1);
        var all = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, double>(block.Bytes);
        Assert.Equal(6 * 3, all.Count(1.0));
        Assert.Equal(1, all[2 * 5 + 4]);
        Assert.Equal(0, all[2 * 5 + 1]);
    }

    [Fact]
    public void A_span_covers_a_contiguous_view_in_memory_order()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var rows = ArrayView<double>.Create(layout, block.Memory, new Slice(1, 3));
        Assert.Equal(Enumerable.Range(7, 12).Select(i => (double)i), rows.AsSpan().ToArray());
        rows.AsSpan()[0] = 0;
        Assert.Equal(0, block.At<double>(6 * 8));

        var (fl, fb) = Matrix4x6(ArrayOrder.Fortran);
        using var __ = fb;
        using var columns = ArrayView<double>.Create(fl, fb.Memory, Slice.All, new Slice(4, 6));
        Assert.Equal([5.0, 11, 17, 23, 6, 12, 18, 24], columns.AsSpan().ToArray()); // Fortran order
    }

    [Fact]
    public void A_span_of_a_strided_view_is_refused_naming_the_alternatives()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory, Slice.All, new Slice(1, 3));
        var e = Assert.Throws<InvalidOperationException>(() => view.AsSpan());
        Assert.Contains("not contiguous", e.Message);
        Assert.Contains("AsTensorSpan()", e.Message);
    }

    [Fact]
    public void Element_refs_take_negative_indices_and_reject_out_of_range_ones()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory);
        Assert.Equal(24, view[-1, -1]);
        view[0, -6] = 42;
        Assert.Equal(42, block.At<double>(0));
        var e = Assert.Throws<IndexOutOfRangeException>(() => view[4, 0]);
        Assert.Equal("index 4 is out of bounds for axis 0 with size 4", e.Message);
        Assert.Throws<IndexOutOfRangeException>(() => view[0, -7]);
        Assert.Throws<ArgumentException>(() => view[1]);
    }

    [Fact]
    public void A_sub_view_of_a_view_is_the_composed_slice()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory, Slice.Reversed, new Slice(1, null, 2));
        using var sub = view.Slice(new Slice(1, 3), -1);
        Assert.Equal([2L], sub.Shape.ToArray());
        Assert.Equal([2 * 6 + 5 + 1.0, 1 * 6 + 5 + 1], sub.ToArray()); // base rows 2, 1; column 5
    }

    [Fact]
    public void Empty_views_have_empty_spans_tensors_and_no_bytes()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory, new Slice(3, 1), Slice.All);
        Assert.Equal(0, view.Length);
        Assert.Equal([0L, 6], view.Shape.ToArray());
        Assert.True(view.Geometry.Bytes.IsEmpty);
        Assert.True(view.AsSpan().IsEmpty);
        var t = view.AsTensorSpan();
        Assert.Equal([0, 6], t.Lengths.ToArray());
        Assert.Empty(view.ToArray());
        Assert.Throws<IndexOutOfRangeException>(() => view[0, 0]);
        // An empty view needs no memory at all.
        using var none = new ArrayView<double>(view.Geometry, new ArrayMemory(0, 0, 0));
        Assert.Equal(0, none.AsTensorSpan().FlattenedLength);
    }

    [Fact]
    public void A_0d_view_is_one_element()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        using var view = ArrayView<double>.Create(layout, block.Memory, 2, 3);
        Assert.Equal(0, view.Rank);
        Assert.Equal(1, view.Length);
        Assert.Equal(2 * 6 + 3 + 1, view[[]]);
        Assert.Equal([2 * 6 + 3 + 1.0], view.AsSpan().ToArray());
        var t = view.AsTensorSpan();
        Assert.Equal([1], t.Lengths.ToArray());
        Assert.Equal(2 * 6 + 3 + 1, t[0]);
    }

    [Fact]
    public void Memory_that_does_not_hold_the_view_is_refused_naming_the_bytes()
    {
        var (layout, block) = Matrix4x6();
        using var _ = block;
        var rows = layout.Slice(new Slice(1, 3)); // bytes [48, 143]
        Assert.Equal(new ByteRange(48, 143), rows.Bytes);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new ArrayView<double>(rows, new ArrayMemory(block.Address, 0, 143)));
        Assert.Contains("memory holds bytes [0, 142] of the array but the view needs [48, 143]", e.Message);
        // Exactly the view's bytes are enough, wherever the memory starts in the file.
        using var exact = new ArrayView<double>(rows, new ArrayMemory(block.Address + 48, 48, 96));
        Assert.Equal(7, exact[0, 0]);
    }

    [Fact]
    public void A_view_cannot_be_read_as_an_element_type_of_another_size()
    {
        var layout = ArrayLayout.For<double>([3]);
        using var block = new NativeBlock(layout.ByteSize);
        var e = Assert.Throws<ArgumentException>(() => ArrayView<float>.Create(layout, block.Memory));
        Assert.Contains("8-byte elements cannot be used as Single (4 bytes)", e.Message);
    }

    [Fact]
    public void Disposing_a_view_disposes_its_owner_once_and_the_view_refuses_use()
    {
        using var block = new NativeBlock(24);
        var owner = new CountingOwner();
        var view = new ArrayView<double>(ArrayLayout.For<double>([3]).Full, block.Memory, owner);
        view.Dispose();
        view.Dispose();
        Assert.Equal(1, owner.Disposed);
        Assert.Throws<ObjectDisposedException>(() => view.AsSpan());
        Assert.Throws<ObjectDisposedException>(() => view[0]);
    }

    private sealed class CountingOwner : IDisposable
    {
        public int Disposed { get; private set; }
        public void Dispose() => Disposed++;
    }

    [Fact]
    public void A_view_larger_than_the_address_space_is_refused_before_mapping()
    {
        var layout = ArrayLayout.For<double>([1L << 39, 1L << 20]); // 4 EiB
        var e = Assert.Throws<InsufficientMemoryException>(() => layout.Full.EnsureMappable());
        Assert.Contains("more than the 140737488355328-byte address space", e.Message);
        layout.Slice(new Slice(0, 1L << 10)).EnsureMappable(); // 8 GiB of it is fine
        var (pg, n) = layout.Slice(5).Bytes.ToPages(2 << 20);
        Assert.Equal((5L * (8 << 20) / (2 << 20), 4L), (pg, n)); // row 5: 8 MiB = 4 pages of 2 MiB
    }

    [Fact]
    public void A_span_of_more_than_2_to_the_31_elements_is_refused_but_a_TensorSpan_works()
    {
        const long size = 3L << 30; // 3 GiB of address space, nothing committed
        using var reservation = new Reservation(size);
        var layout = ArrayLayout.For<byte>([3, 1L << 30]);
        using var view = ArrayView<byte>.Create(layout, new ArrayMemory(reservation.Address, 0, size));
        Assert.True(view.IsContiguous);
        var e = Assert.Throws<InvalidOperationException>(() => view.AsSpan());
        Assert.Contains($"view holds {size} elements but a Span<T> holds at most 2147483647", e.Message);
        Assert.Equal(size, (long)view.AsTensorSpan().FlattenedLength);
        using var row = view.Slice(1);
        Assert.Equal(1 << 30, row.AsSpan().Length); // a 1 GiB row is one span
    }
}
