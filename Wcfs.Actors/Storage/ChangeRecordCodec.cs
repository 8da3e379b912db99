// ChangeRecordCodec - the one stored form of a change record (STORAGE.md §1), shared by backends.
//
// Compact JSON: {"o":["<oid>",...],"b":{"<oid>":[blk,...],...}} with oids as 16 hex digits and
// block lists ascending. The tid is stored beside it (it is the row key), not inside.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Wcfs.Actors.Storage;

/// <summary>Encodes and decodes the objects/blocks part of a <see cref="ChangeRecord"/>.</summary>
public static partial class ChangeRecordCodec
{
    private sealed record Dto(string[] O, Dictionary<string, long[]> B);

    // source-generated, as ObjectCodec's (no reflection-based serializer in a client process)
    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
    [JsonSerializable(typeof(Dto))]
    private sealed partial class ChangeJson : JsonSerializerContext;

    /// <summary>The stored bytes for the changed objects and blocks of one commit.</summary>
    public static byte[] Encode(IEnumerable<Oid> objects, IReadOnlyDictionary<Oid, long[]> blocks) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new Dto(
                [.. objects.Order().Select(o => o.ToString())],
                blocks.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key.ToString(), kv => kv.Value.Order().ToArray())),
            ChangeJson.Default.Dto);

    /// <summary>Decodes what <see cref="Encode"/> wrote; throws StorageException naming the tid on garbage.</summary>
    public static ChangeRecord Decode(Tid tid, ReadOnlySpan<byte> data)
    {
        try
        {
            var d = JsonSerializer.Deserialize(data, ChangeJson.Default.Dto) ?? throw new JsonException("null");
            return new ChangeRecord(
                tid,
                [.. d.O.Select(Oid.Parse)],
                d.B.ToDictionary(kv => Oid.Parse(kv.Key), kv => kv.Value));
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException)
        {
            throw new StorageException($"corrupt change record of {tid}: {e.Message}", e);
        }
    }
}
