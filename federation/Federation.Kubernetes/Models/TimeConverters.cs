using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>Kubernetes <c>Time</c>: RFC 3339 in UTC with whole seconds (<c>2024-05-01T10:00:00Z</c>).</summary>
public sealed class KubernetesTimeConverter : JsonConverter<DateTimeOffset?>
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss'Z'";

    public override DateTimeOffset? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => RfcTime.Read(ref reader);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset? value, JsonSerializerOptions options)
        => RfcTime.Write(writer, value, Format);
}

/// <summary>Kubernetes <c>MicroTime</c>: RFC 3339 in UTC with six fractional digits (<c>2024-05-01T10:00:00.123456Z</c>).</summary>
public sealed class MicroTimeConverter : JsonConverter<DateTimeOffset?>
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'";

    public override DateTimeOffset? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
        => RfcTime.Read(ref reader);

    public override void Write(Utf8JsonWriter writer, DateTimeOffset? value, JsonSerializerOptions options)
        => RfcTime.Write(writer, value, Format);
}

internal static class RfcTime
{
    public static DateTimeOffset? Read(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        var text = reader.GetString();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }

        // RFC 3339 with any number of fractional digits and a Z or numeric offset.
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var value))
        {
            return value;
        }

        throw new JsonException($"'{text}' is not an RFC 3339 time");
    }

    public static void Write(Utf8JsonWriter writer, DateTimeOffset? value, string format)
    {
        if (value is not { } time)
        {
            writer.WriteNullValue();
            return;
        }

        writer.WriteStringValue(time.UtcDateTime.ToString(format, CultureInfo.InvariantCulture));
    }
}
