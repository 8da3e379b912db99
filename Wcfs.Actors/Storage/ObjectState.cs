// ObjectState - the kinds of persistent objects (STORAGE.md §1) and their one encoding.
//
// States are immutable records. The stored form is (kind byte, UTF-8 JSON of the record), written
// and read only by ObjectCodec, so every backend stores objects the same way.
using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wcfs.Actors.Storage;

/// <summary>The state of one persistent object.</summary>
public abstract record ObjectState;

/// <summary>The root object (oid 0): name → oid.</summary>
public sealed record RootState(ImmutableSortedDictionary<string, Oid> Names) : ObjectState
{
    /// <summary>An empty root.</summary>
    public static readonly RootState Empty = new(ImmutableSortedDictionary<string, Oid>.Empty.WithComparers(StringComparer.Ordinal));
}

/// <summary>A big file of fixed-size blocks. The block size never changes for a file.</summary>
public sealed record ZBigFileState(int BlockSize) : ObjectState
{
    /// <summary>The default block size, 2 MiB.</summary>
    public const int DefaultBlockSize = 2 << 20;

    /// <summary>True for a power of two from 4 KiB to 64 MiB.</summary>
    public static bool IsValidBlockSize(long n) => n >= 4096 && n <= (64L << 20) && (n & (n - 1)) == 0;
}

/// <summary>Element order of an N-d array.</summary>
public enum ArrayOrder
{
    /// <summary>Row-major (last index fastest).</summary>
    C,
    /// <summary>Column-major (first index fastest).</summary>
    Fortran,
}

/// <summary>An N-d array stored in a ZBigFile.</summary>
public sealed record ZBigArrayState(ImmutableArray<long> Shape, string Dtype, ArrayOrder Order, Oid FileOid) : ObjectState;

/// <summary>The one encoding of object states for storage backends.</summary>
public static partial class ObjectCodec
{
    private const byte KindRoot = 1, KindFile = 2, KindArray = 3;

    private sealed record RootDto(Dictionary<string, string> Names);
    private sealed record ArrayDto(long[] Shape, string Dtype, string Order, string File);

    // Source-generated (de)serializers: the reflection-based ones load System.Text.Json's whole
    // converter set and emit accessors at run time, ~0.5 MiB of type data and code in every process
    // that opens a database (docs/NOTES.md "Data path, sixth pass"). Same JSON as before
    // (StoredFormTests).
    [JsonSerializable(typeof(RootDto))]
    [JsonSerializable(typeof(ArrayDto))]
    [JsonSerializable(typeof(int))]
    private sealed partial class ObjectJson : JsonSerializerContext;

    /// <summary>Encodes a state as (kind, bytes).</summary>
    public static (byte Kind, byte[] Data) Encode(ObjectState state) => state switch
    {
        RootState r => (KindRoot, JsonSerializer.SerializeToUtf8Bytes(new RootDto(r.Names.ToDictionary(kv => kv.Key, kv => kv.Value.ToString())), ObjectJson.Default.RootDto)),
        ZBigFileState f => (KindFile, JsonSerializer.SerializeToUtf8Bytes(f.BlockSize, ObjectJson.Default.Int32)),
        ZBigArrayState a => (KindArray, JsonSerializer.SerializeToUtf8Bytes(new ArrayDto(a.Shape.ToArray(), a.Dtype, a.Order.ToString(), a.FileOid.ToString()), ObjectJson.Default.ArrayDto)),
        _ => throw new ArgumentException($"unknown object state {state.GetType().Name}", nameof(state)),
    };

    /// <summary>Decodes what <see cref="Encode"/> wrote; throws StorageException naming the oid on garbage.</summary>
    public static ObjectState Decode(Oid oid, byte kind, ReadOnlySpan<byte> data)
    {
        try
        {
            switch (kind)
            {
                case KindRoot:
                    var r = JsonSerializer.Deserialize(data, ObjectJson.Default.RootDto) ?? throw new JsonException("null");
                    return new RootState(r.Names.ToImmutableSortedDictionary(kv => kv.Key, kv => Oid.Parse(kv.Value), StringComparer.Ordinal));
                case KindFile:
                    var bs = JsonSerializer.Deserialize(data, ObjectJson.Default.Int32);
                    if (!ZBigFileState.IsValidBlockSize(bs))
                        throw new JsonException($"invalid block size {bs}");
                    return new ZBigFileState(bs);
                case KindArray:
                    var a = JsonSerializer.Deserialize(data, ObjectJson.Default.ArrayDto) ?? throw new JsonException("null");
                    return new ZBigArrayState([.. a.Shape], a.Dtype, Enum.Parse<ArrayOrder>(a.Order), Oid.Parse(a.File));
                default:
                    throw new JsonException($"unknown kind {kind}");
            }
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new StorageException($"corrupt object {oid}: {e.Message}", e);
        }
    }
}
