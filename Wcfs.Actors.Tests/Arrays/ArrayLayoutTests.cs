using System.Numerics;
using Wcfs.Actors.Arrays;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Arrays;

public class ArrayLayoutTests
{
    private readonly record struct Rgb(byte R, byte G, byte B);

    [Fact]
    public void C_order_makes_the_last_index_fastest()
    {
        var l = ArrayLayout.For<double>([2, 3, 4]);
        Assert.Equal([12L, 4, 1], l.ElementStrides.ToArray());
        Assert.Equal([96L, 32, 8], l.ByteStrides.ToArray());
        Assert.Equal(24, l.Length);
        Assert.Equal(192, l.ByteSize);
        Assert.Equal(3, l.Rank);
        Assert.True(l.Full.IsCContiguous);
        Assert.False(l.Full.IsFortranContiguous);
    }

    [Fact]
    public void Fortran_order_makes_the_first_index_fastest()
    {
        var l = ArrayLayout.For<int>([2, 3, 4], ArrayOrder.Fortran);
        Assert.Equal([1L, 2, 6], l.ElementStrides.ToArray());
        Assert.Equal([4L, 8, 24], l.ByteStrides.ToArray());
        Assert.Equal(96, l.ByteSize);
        Assert.True(l.Full.IsFortranContiguous);
        Assert.False(l.Full.IsCContiguous);
    }

    [Fact]
    public void A_0d_array_holds_one_element_and_an_empty_dimension_holds_none()
    {
        var scalar = ArrayLayout.For<long>([]);
        Assert.Equal(1, scalar.Length);
        Assert.Equal(8, scalar.ByteSize);
        Assert.Equal(new ByteRange(0, 7), scalar.Full.Bytes);

        var empty = ArrayLayout.For<long>([3, 0, 5]);
        Assert.Equal(0, empty.Length);
        Assert.Equal(0, empty.ByteSize);
        Assert.Equal([40L, 40, 8], empty.ByteStrides.ToArray());
        Assert.True(empty.Full.Bytes.IsEmpty);
        Assert.True(empty.Full.IsContiguous);
    }

    [Theory]
    [InlineData(new long[] { -1 }, "shape[0] is -1")]
    [InlineData(new long[] { 3, 4, -2 }, "shape[2] is -2")]
    [InlineData(new long[] { 0, long.MinValue }, "shape[1] is -9223372036854775808")]
    public void A_negative_dimension_is_an_ArgumentException_naming_the_dimension(long[] shape, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ArrayLayout.For<double>(shape));
        Assert.Contains(message, e.Message);
        Assert.Equal("shape", e.ParamName);
    }

    [Theory]
    [InlineData(new long[] { 1L << 60, 8 })]
    [InlineData(new long[] { long.MaxValue })]
    [InlineData(new long[] { 0, 1L << 31, 1L << 31 })] // empty, but its strides would overflow
    [InlineData(new long[] { 1L << 20, 1L << 20, 1L << 20 })]
    public void A_shape_of_more_than_2_to_the_63_bytes_is_rejected(long[] shape)
    {
        var e = Assert.Throws<ArgumentException>(() => ArrayLayout.For<double>(shape));
        Assert.Contains("more than 2^63-1 bytes", e.Message);
    }

    [Fact]
    public void The_largest_representable_shape_is_accepted()
    {
        var l = ArrayLayout.For<double>([(1L << 30) - 1, 1L << 30]);
        Assert.Equal(((1L << 30) - 1) << 30, l.Length);
        Assert.Equal(((1L << 30) - 1) << 33, l.ByteSize);
        Assert.Equal(long.MaxValue - 7, ArrayLayout.Create([long.MaxValue / 8], ArrayOrder.C, 8).ByteSize);
    }

    [Fact]
    public void Element_size_and_order_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ArrayLayout.Create([3], ArrayOrder.C, 0));
        Assert.Throws<ArgumentException>(() => ArrayLayout.Create([3], (ArrayOrder)7, 8));
    }

    [Fact]
    public void Layouts_with_equal_shape_order_and_element_size_are_equal()
    {
        Assert.Equal(ArrayLayout.For<double>([2, 3]), ArrayLayout.Create([2, 3], ArrayOrder.C, 8));
        Assert.Equal(ArrayLayout.For<double>([2, 3]).GetHashCode(), ArrayLayout.For<long>([2, 3]).GetHashCode());
        Assert.NotEqual(ArrayLayout.For<double>([2, 3]), ArrayLayout.For<double>([2, 3], ArrayOrder.Fortran));
        Assert.NotEqual(ArrayLayout.For<double>([2, 3]), ArrayLayout.For<double>([3, 2]));
        Assert.NotEqual(ArrayLayout.For<double>([2, 3]), ArrayLayout.For<float>([2, 3]));
        Assert.Equal("ArrayLayout([2, 3], Fortran, 4-byte elements)", ArrayLayout.For<float>([2, 3], ArrayOrder.Fortran).ToString());
    }

    [Fact]
    public void Element_types_have_numpy_dtype_names()
    {
        Assert.Equal("float64", Dtype.NameOf<double>());
        Assert.Equal("float32", Dtype.NameOf<float>());
        Assert.Equal("float16", Dtype.NameOf<Half>());
        Assert.Equal("int8", Dtype.NameOf<sbyte>());
        Assert.Equal("uint8", Dtype.NameOf<byte>());
        Assert.Equal("int16", Dtype.NameOf<short>());
        Assert.Equal("uint16", Dtype.NameOf<ushort>());
        Assert.Equal("int32", Dtype.NameOf<int>());
        Assert.Equal("uint32", Dtype.NameOf<uint>());
        Assert.Equal("int64", Dtype.NameOf<long>());
        Assert.Equal("uint64", Dtype.NameOf<ulong>());
        Assert.Equal("bool", Dtype.NameOf<bool>());
        Assert.Equal("complex128", Dtype.NameOf<Complex>());
        Assert.Equal("V3", Dtype.NameOf<Rgb>());
        Assert.Equal("V16", Dtype.NameOf<decimal>());
        Assert.Equal("float64", ArrayLayout.DtypeOf<double>());
    }

    [Fact]
    public void A_stored_dtype_matches_its_own_type_and_raw_records_of_its_size()
    {
        Assert.True(Dtype.Matches<double>("float64"));
        Assert.False(Dtype.Matches<double>("int64"));
        Assert.False(Dtype.Matches<long>("float64"));
        Assert.True(Dtype.Matches<Rgb>("V3"));
        Assert.False(Dtype.Matches<Rgb>("V4"));
        Assert.True(Dtype.Matches<decimal>("V16"));
    }

    [Fact]
    public void Byte_ranges_convert_to_the_pages_holding_them()
    {
        Assert.Equal((0L, 1L), new ByteRange(0, 4095).ToPages(4096));
        Assert.Equal((0L, 2L), new ByteRange(4095, 4096).ToPages(4096));
        Assert.Equal((2L, 3L), new ByteRange(2 * 4096 + 7, 5 * 4096 - 1).ToPages(4096));
        Assert.Equal((0L, 0L), ByteRange.Empty.ToPages(4096));
        Assert.Equal(0, ByteRange.Empty.Count);
        Assert.Equal(ByteRange.Empty, ByteRange.FromOffset(10, 0));
        Assert.Equal(new ByteRange(10, 19), ByteRange.FromOffset(10, 10));
    }

    [Fact]
    public void A_stored_array_state_gives_its_layout_only_for_a_matching_element_type()
    {
        var state = new ZBigArrayState([3, 4], "float64", ArrayOrder.Fortran, new Oid(7));
        Assert.Equal(ArrayLayout.For<double>([3, 4], ArrayOrder.Fortran), ArrayLayout.Of<double>(state));
        var e = Assert.Throws<ArgumentException>(() => ArrayLayout.Of<long>(state));
        Assert.Contains("array holds float64 elements; it cannot be viewed as Int64 (int64)", e.Message);
        Assert.Throws<ArgumentException>(() => ArrayLayout.Of<double>(state with { Shape = [3, -4] }));
    }

    [Fact]
    public void A_view_maps_only_the_pages_holding_its_bytes()
    {
        var layout = ArrayLayout.For<double>([1024, 1024]); // 8 KiB rows, 8 MiB
        Assert.Equal((2L, 4L), layout.Slice(new Slice(1, 3)).PagesToMap(4096));          // rows 1..2: bytes [8 KiB, 24 KiB)
        Assert.Equal((0L, 2047L), layout.Slice(Slice.All, 0).PagesToMap(4096));          // a column: pages 0..2046
        Assert.Equal((2047L, 1L), layout.Slice(-1, new Slice(600, 700)).PagesToMap(4096)); // in the last page
        Assert.Equal((0L, 0L), layout.Slice(new Slice(5, 5)).PagesToMap(4096));
        Assert.Equal(new ArrayMemory(42, 3 * 4096, 100), ArrayMemory.FromPages(42, 3, 4096, 100));
    }
}
