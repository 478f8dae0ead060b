using System.Globalization;
using System.Text.Json;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>One stored object as etcd holds it: its JSON bytes and the revision that is its resourceVersion.</summary>
public readonly record struct StoredItem(ReadOnlyMemory<byte> Value, long Revision);

/// <summary>
/// Writes stored objects to a response without building a DOM: the bytes are copied value by value, with
/// apiVersion and kind set from the resource type and metadata.resourceVersion set to the etcd revision
/// (what <see cref="ObjectStore"/> does on a decoded object, for lists of thousands of objects).
/// </summary>
internal static class StoredJson
{
    private static readonly byte[] ApiVersion = "apiVersion"u8.ToArray();
    private static readonly byte[] Kind = "kind"u8.ToArray();
    private static readonly byte[] Metadata = "metadata"u8.ToArray();
    private static readonly byte[] ResourceVersion = "resourceVersion"u8.ToArray();

    public static void Write(Utf8JsonWriter writer, ResourceType type, StoredItem item)
    {
        var json = item.Value.Span;
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"stored {type.Resource} object is not a JSON object");
        }

        writer.WriteStartObject();
        writer.WriteString(ApiVersion, type.ApiVersion);
        writer.WriteString(Kind, type.Kind);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(ApiVersion) || reader.ValueTextEquals(Kind))
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            var isMetadata = reader.ValueTextEquals(Metadata);
            CopyPropertyName(ref reader, writer);
            reader.Read();
            if (isMetadata && reader.TokenType == JsonTokenType.StartObject)
            {
                WriteMetadata(ref reader, writer, json, item.Revision);
            }
            else
            {
                CopyValue(ref reader, writer, json);
            }
        }

        writer.WriteEndObject();
    }

    private static void WriteMetadata(ref Utf8JsonReader reader, Utf8JsonWriter writer, ReadOnlySpan<byte> json, long revision)
    {
        writer.WriteStartObject();
        writer.WriteString(ResourceVersion, revision.ToString(CultureInfo.InvariantCulture));
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(ResourceVersion))
            {
                reader.Read();
                reader.Skip();
                continue;
            }

            CopyPropertyName(ref reader, writer);
            reader.Read();
            CopyValue(ref reader, writer, json);
        }

        writer.WriteEndObject();
    }

    private static void CopyPropertyName(ref Utf8JsonReader reader, Utf8JsonWriter writer)
    {
        if (reader.ValueIsEscaped)
        {
            writer.WritePropertyName(reader.GetString()!);
        }
        else
        {
            writer.WritePropertyName(reader.ValueSpan);
        }
    }

    /// <summary>Copies the value the reader is on as raw bytes (the stored JSON is valid: it was written by the store).</summary>
    private static void CopyValue(ref Utf8JsonReader reader, Utf8JsonWriter writer, ReadOnlySpan<byte> json)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        writer.WriteRawValue(json[start..(int)reader.BytesConsumed], skipInputValidation: true);
    }
}
