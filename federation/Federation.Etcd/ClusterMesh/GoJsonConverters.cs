using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Federation.Etcd.ClusterMesh;

/// <summary>Go <c>string</c>: JSON null decodes to "" (Go leaves the zero value), null writes as "".</summary>
internal sealed class GoStringConverter : JsonConverter<string>
{
    public override bool HandleNull => true;

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => string.Empty,
        JsonTokenType.String => reader.GetString()!,
        _ => throw new JsonException($"expected a string, found {reader.TokenType}"),
    };

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value ?? string.Empty);

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.GetString()!;

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) =>
        writer.WritePropertyName(value);
}

/// <summary>
/// Go <c>net.IP</c> as text: "" when unset, otherwise a valid address, read and written in Go's
/// canonical form (<see cref="GoIPText"/>). An invalid address fails decoding, as in Go.
/// </summary>
internal sealed class GoIPConverter : JsonConverter<string>
{
    public override bool HandleNull => true;

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return string.Empty;
        }

        if (reader.TokenType != JsonTokenType.String)
        {
            throw new JsonException($"expected an IP address string, found {reader.TokenType}");
        }

        var text = reader.GetString()!;
        return GoIPText.TryNormalize(text, out var normalized)
            ? normalized
            : throw new JsonException($"invalid IP address \"{text}\"");
    }

    public override void Write(Utf8JsonWriter writer, string? value, JsonSerializerOptions options)
    {
        // An unparsable address cannot come from Go; writing it would produce a value Go refuses.
        var text = value ?? string.Empty;
        writer.WriteStringValue(GoIPText.TryNormalize(text, out var normalized)
            ? normalized
            : throw new InvalidOperationException($"\"{text}\" is not an IP address; it cannot be written as a Go net.IP"));
    }
}

/// <summary>Go <c>net.IPMask</c>: base64 text, or null (kept as <see cref="IPMask.JsonNull"/>).</summary>
internal sealed class IPMaskConverter : JsonConverter<IPMask>
{
    public override bool HandleNull => true;

    public override IPMask Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return IPMask.JsonNull;
        }

        if (reader.TokenType != JsonTokenType.String || !reader.TryGetBytesFromBase64(out var bytes))
        {
            throw new JsonException("expected a base64 IP mask or null");
        }

        return IPMask.FromBytes(bytes);
    }

    public override void Write(Utf8JsonWriter writer, IPMask? value, JsonSerializerOptions options)
    {
        if (value is null || value.IsJsonNull)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteBase64StringValue(value.Bytes.AsSpan());
    }
}

/// <summary>
/// Go <c>map[string]T</c> as an <see cref="ImmutableDictionary{TKey, TValue}"/>: keys written in Go's
/// byte-wise order whatever the dictionary's comparer, read into an ordinal dictionary (a repeated
/// key keeps the last value, as in Go). A null map is handled by the serializer (written as null).
/// </summary>
internal sealed class GoMapConverter<TValue> : JsonConverter<ImmutableDictionary<string, TValue>>
{
    public override ImmutableDictionary<string, TValue> Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            throw new JsonException($"expected an object, found {reader.TokenType}");
        }

        var valueInfo = (JsonTypeInfo<TValue>)options.GetTypeInfo(typeof(TValue));
        var builder = ImmutableDictionary.CreateBuilder<string, TValue>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            var key = reader.GetString()!;
            reader.Read();
            builder[key] = JsonSerializer.Deserialize(ref reader, valueInfo)!;
        }

        return builder.ToImmutable();
    }

    public override void Write(Utf8JsonWriter writer, ImmutableDictionary<string, TValue> value, JsonSerializerOptions options)
    {
        var valueInfo = (JsonTypeInfo<TValue>)options.GetTypeInfo(typeof(TValue));
        var entries = value.ToArray();
        Array.Sort(entries, static (a, b) => GoStringOrder.Instance.Compare(a.Key, b.Key));
        writer.WriteStartObject();
        foreach (var (key, item) in entries)
        {
            writer.WritePropertyName(key);
            JsonSerializer.Serialize(writer, item, valueInfo);
        }

        writer.WriteEndObject();
    }
}

/// <summary>
/// Marks a field Go declares with <c>omitempty</c>: left out when null, "", 0, false or an empty
/// collection. (Pointer fields such as <c>*bool</c> are omitted only when nil: use
/// <see cref="JsonIgnoreCondition.WhenWritingNull"/> for those.)
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class GoOmitEmptyAttribute : Attribute
{
    /// <summary>The type-info modifier that gives <see cref="GoOmitEmptyAttribute"/> its meaning.</summary>
    public static void Apply(JsonTypeInfo typeInfo)
    {
        if (typeInfo.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        foreach (var property in typeInfo.Properties)
        {
            if (property.AttributeProvider?.IsDefined(typeof(GoOmitEmptyAttribute), inherit: false) == true)
            {
                property.ShouldSerialize = static (_, value) => !IsEmpty(value);
            }
        }
    }

    private static bool IsEmpty(object? value) => value switch
    {
        null => true,
        string s => s.Length == 0,
        bool b => !b,
        byte n => n == 0,
        ushort n => n == 0,
        uint n => n == 0,
        int n => n == 0,
        ulong n => n == 0,
        System.Collections.ICollection c => c.Count == 0,
        _ => false,
    };
}
