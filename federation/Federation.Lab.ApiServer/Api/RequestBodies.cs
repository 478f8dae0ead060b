using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Federation.Lab.ApiServer.Api;

/// <summary>A request body that is not a well-formed document; the message goes to the client (400).</summary>
internal sealed class BadBodyException(string message) : Exception(message);

/// <summary>Reads object bodies: JSON (what kubectl sends) or YAML (<c>application/yaml</c>).</summary>
internal static class RequestBodies
{
    public static async Task<byte[]> ReadAllAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await request.Body.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return buffer.ToArray();
    }

    public static bool IsYaml(string? contentType)
    {
        var mediaType = contentType?.Split(';')[0].Trim();
        return mediaType is "application/yaml" or "application/x-yaml" or "text/yaml";
    }

    /// <summary>The body as a JSON object; throws <see cref="BadBodyException"/> for malformed input.</summary>
    public static JsonObject ParseObject(byte[] body, string? contentType)
    {
        JsonNode? node;
        if (IsYaml(contentType))
        {
            node = ParseYaml(Encoding.UTF8.GetString(body));
        }
        else
        {
            try
            {
                node = JsonNode.Parse(body);
            }
            catch (JsonException ex)
            {
                throw new BadBodyException($"the request body is not valid JSON: {ex.Message}");
            }
        }

        return node as JsonObject ?? throw new BadBodyException("the request body must be a JSON object");
    }

    /// <summary>One YAML document as JSON (YAML 1.2 core schema for plain scalars).</summary>
    public static JsonNode? ParseYaml(string text)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException ex)
        {
            throw new BadBodyException($"the request body is not valid YAML: {ex.Message}");
        }

        if (stream.Documents.Count != 1)
        {
            throw new BadBodyException($"the request body must hold exactly one YAML document (found {stream.Documents.Count})");
        }

        return Convert(stream.Documents[0].RootNode);
    }

    private static JsonNode? Convert(YamlNode node)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var result = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    var name = key is YamlScalarNode scalarKey ? scalarKey.Value ?? "" : throw new BadBodyException("YAML mapping keys must be scalars");
                    result[name] = Convert(value);
                }

                return result;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new BadBodyException($"unsupported YAML node {node.NodeType}");
        }
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted or ScalarStyle.Literal or ScalarStyle.Folded)
        {
            return JsonValue.Create(text);
        }

        switch (text)
        {
            case "" or "~" or "null" or "Null" or "NULL":
                return null;
            case "true" or "True" or "TRUE":
                return JsonValue.Create(true);
            case "false" or "False" or "FALSE":
                return JsonValue.Create(false);
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (text.Length > 0 && (char.IsAsciiDigit(text[0]) || text[0] is '-' or '+' or '.')
            && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(text);
    }
}
