using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Tables;

/// <summary>One column of a Table (<c>columnDefinitions[]</c>); priority 1 columns show with <c>-o wide</c> only.</summary>
internal sealed record TableColumn(string Name, string Type, string Format, string Description, int Priority = 0)
{
    public static readonly TableColumn ObjectName = new("Name", "string", "name", "Name must be unique within a namespace.");

    public static readonly TableColumn Age = new("Age", "string", "", "Time since the object was created (its creationTimestamp).");
}

/// <summary>
/// The columns of a kind and how one object fills them: the lab's version of kube-apiserver's printers,
/// which always produce the wide columns (kubectl hides priority 1 columns unless <c>-o wide</c>).
/// </summary>
internal sealed record TablePrinter(IReadOnlyList<TableColumn> Columns, Func<JsonObject, DateTimeOffset, JsonNode?[]> Cells)
{
    /// <summary>Optional row conditions (pods report Completed for Succeeded and Failed).</summary>
    public Func<JsonObject, JsonArray?> Conditions { get; init; } = static _ => null;
}

/// <summary>Reading the fields printers need from objects held as JSON, tolerating missing and mistyped values.</summary>
internal static class Fields
{
    public const string None = "<none>";

    public static string Text(JsonNode? node) => ObjectJson.String(node) ?? "";

    public static string TextOr(JsonNode? node, string fallback) => ObjectJson.String(node) is { Length: > 0 } text ? text : fallback;

    public static long Number(JsonNode? node)
        => node is JsonValue value && value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<long>(out var number) ? number : 0;

    public static bool IsTrue(JsonNode? node) => node is JsonValue value && value.GetValueKind() == JsonValueKind.True;

    public static IEnumerable<JsonObject> Objects(JsonNode? node)
        => node is JsonArray array ? array.OfType<JsonObject>() : [];

    public static IEnumerable<string> Strings(JsonNode? node)
        => node is JsonArray array ? array.Select(ObjectJson.String).OfType<string>() : [];

    public static int Count(JsonNode? node) => node switch
    {
        JsonObject o => o.Count,
        JsonArray a => a.Count,
        _ => 0,
    };

    public static DateTimeOffset? Time(JsonNode? node)
        => ObjectJson.String(node) is { Length: > 0 } text
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;

    /// <summary>The AGE cell: time since creationTimestamp as kubectl shows it, <c>&lt;unknown&gt;</c> without one.</summary>
    public static string Age(JsonObject value, DateTimeOffset now)
        => Time(value["metadata"]?["creationTimestamp"]) is { } created ? HumanDuration.Format(now - created) : "<unknown>";

    /// <summary>A condition's status (<c>True</c>, <c>False</c>, <c>Unknown</c>) by type, or null when absent.</summary>
    public static string? Condition(JsonNode? conditions, string type)
        => Objects(conditions).FirstOrDefault(c => Text(c["type"]) == type) is { } condition ? Text(condition["status"]) : null;

    /// <summary>A label map as <c>k=v,k=v</c> in key order (Kubernetes' FormatLabels), <c>&lt;none&gt;</c> when empty.</summary>
    public static string Labels(JsonNode? labels)
    {
        if (labels is not JsonObject map || map.Count == 0)
        {
            return None;
        }

        return string.Join(',', map.Select(p => $"{p.Key}={Text(p.Value)}").Order(StringComparer.Ordinal));
    }
}
