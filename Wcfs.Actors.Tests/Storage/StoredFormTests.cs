// StoredFormTests - the bytes ObjectCodec and ChangeRecordCodec write are the stored format: they
// are pinned here byte for byte (databases written by earlier versions must still decode; the
// codecs moved from reflection to source-generated System.Text.Json without changing a byte).
using System.Collections.Immutable;
using System.Text;
using Wcfs.Actors.Storage;
using Xunit;

namespace Wcfs.Actors.Tests.Storage;

public sealed class StoredFormTests
{
    private const string RootJson = """{"Names":{"a":"0000000000000001","b":"00000000000000ff"}}""";
    private const string ArrayJson = """{"Shape":[2,3],"Dtype":"float64","Order":"Fortran","File":"0000000000000007"}""";
    private const string ChangeJson = """{"o":["0000000000000001","0000000000000002"],"b":{"0000000000000002":[1,5,9]}}""";

    [Fact]
    public void Object_states_encode_to_the_stored_bytes_and_back()
    {
        var root = new RootState(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal,
            [new KeyValuePair<string, Oid>("b", new Oid(255)), new KeyValuePair<string, Oid>("a", new Oid(1))]));
        var file = new ZBigFileState(2 << 20);
        var array = new ZBigArrayState([2, 3], "float64", ArrayOrder.Fortran, new Oid(7));

        Assert.Equal((1, RootJson), Text(ObjectCodec.Encode(root)));
        Assert.Equal((2, "2097152"), Text(ObjectCodec.Encode(file)));
        Assert.Equal((3, ArrayJson), Text(ObjectCodec.Encode(array)));

        var r = Assert.IsType<RootState>(ObjectCodec.Decode(Oid.Root, 1, Encoding.UTF8.GetBytes(RootJson)));
        Assert.Equal(root.Names, r.Names);
        Assert.Equal(file, ObjectCodec.Decode(new Oid(7), 2, "2097152"u8));
        var a = Assert.IsType<ZBigArrayState>(ObjectCodec.Decode(new Oid(9), 3, Encoding.UTF8.GetBytes(ArrayJson)));
        Assert.Equal(array.Shape.ToArray(), a.Shape.ToArray());
        Assert.Equal((array.Dtype, array.Order, array.FileOid), (a.Dtype, a.Order, a.FileOid));
    }

    [Fact]
    public void Garbage_is_refused_naming_the_object()
    {
        var e = Assert.Throws<StorageException>(() => ObjectCodec.Decode(new Oid(9), 3, """{"Shape":[2],"Dtype":"float64","Order":"Diagonal","File":"0000000000000007"}"""u8));
        Assert.Contains("corrupt object 0000000000000009", e.Message);
        Assert.Throws<StorageException>(() => ObjectCodec.Decode(new Oid(7), 2, "3000"u8)); // not a valid block size
        Assert.Throws<StorageException>(() => ChangeRecordCodec.Decode(new Tid(5), "{\"o\":"u8));
    }

    [Fact]
    public void Change_records_encode_to_the_stored_bytes_and_back()
    {
        var bytes = ChangeRecordCodec.Encode([new Oid(2), new Oid(1)], new Dictionary<Oid, long[]> { [new Oid(2)] = [9, 1, 5] });
        Assert.Equal(ChangeJson, Encoding.UTF8.GetString(bytes));
        var c = ChangeRecordCodec.Decode(new Tid(5), Encoding.UTF8.GetBytes(ChangeJson));
        Assert.Equal([new Oid(1), new Oid(2)], c.Objects);
        Assert.Equal([1L, 5, 9], c.Blocks[new Oid(2)]);
    }

    private static (int Kind, string Json) Text((byte Kind, byte[] Data) e) => (e.Kind, Encoding.UTF8.GetString(e.Data));
}
