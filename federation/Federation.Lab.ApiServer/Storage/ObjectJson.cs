using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>Small accessors for Kubernetes objects held as <see cref="JsonObject"/>.</summary>
public static class ObjectJson
{
    /// <summary>The object's <c>metadata</c>, created when missing.</summary>
    public static JsonObject Metadata(JsonObject value)
    {
        if (value["metadata"] is JsonObject metadata)
        {
            return metadata;
        }

        metadata = [];
        value["metadata"] = metadata;
        return metadata;
    }

    public static string? Name(JsonObject value) => String(value["metadata"]?["name"]);

    public static string? Namespace(JsonObject value) => String(value["metadata"]?["namespace"]);

    public static string? ResourceVersion(JsonObject value) => String(value["metadata"]?["resourceVersion"]);

    /// <summary>The resourceVersion as an etcd revision (0 when absent or not a number).</summary>
    public static long Revision(JsonObject value)
        => long.TryParse(ResourceVersion(value), NumberStyles.None, CultureInfo.InvariantCulture, out var revision) ? revision : 0;

    /// <summary>The string value of a node, or null when it is missing or not a JSON string.</summary>
    public static string? String(JsonNode? node)
        => node is JsonValue value && value.GetValueKind() == JsonValueKind.String ? value.GetValue<string>() : null;

    /// <summary>The labels as a dictionary (string values only).</summary>
    public static IReadOnlyDictionary<string, string> Labels(JsonObject value)
    {
        if (value["metadata"]?["labels"] is not JsonObject labels)
        {
            return new Dictionary<string, string>();
        }

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, node) in labels)
        {
            if (String(node) is { } text)
            {
                result[key] = text;
            }
        }

        return result;
    }
}
