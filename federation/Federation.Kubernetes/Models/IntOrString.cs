using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>A value that is either a number or a name, such as a Service's <c>targetPort</c>.</summary>
[JsonConverter(typeof(IntOrStringConverter))]
public sealed record IntOrString
{
    private IntOrString(int? intValue, string? stringValue)
    {
        IntValue = intValue;
        StringValue = stringValue;
    }

    /// <summary>The number, when this is a number.</summary>
    public int? IntValue { get; }

    /// <summary>The name, when this is a name.</summary>
    public string? StringValue { get; }

    public bool IsInt => IntValue.HasValue;

    public static IntOrString FromInt(int value) => new(value, null);

    public static IntOrString FromString(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return new(null, value);
    }

    public static implicit operator IntOrString(int value) => FromInt(value);

    public static implicit operator IntOrString(string value) => FromString(value);

    public override string ToString() => IntValue?.ToString(CultureInfo.InvariantCulture) ?? StringValue ?? string.Empty;
}

/// <summary>Reads a JSON number or string into an <see cref="IntOrString"/> and writes it back in the same form.</summary>
public sealed class IntOrStringConverter : JsonConverter<IntOrString>
{
    public override IntOrString? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        return reader.TokenType switch
        {
            JsonTokenType.Number => IntOrString.FromInt(reader.GetInt32()),
            JsonTokenType.String => IntOrString.FromString(reader.GetString()!),
            JsonTokenType.Null => null,
            _ => throw new JsonException($"expected a number or a string, got {reader.TokenType}"),
        };
    }

    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.IntValue is { } number)
        {
            writer.WriteNumberValue(number);
        }
        else
        {
            writer.WriteStringValue(value.StringValue);
        }
    }
}
