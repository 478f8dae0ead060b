using System.Text.Json.Nodes;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Federation.KindConfigs.Tests.Support;

/// <summary>
/// YAML documents as <see cref="JsonNode"/> trees, every scalar a string (so <c>"true"</c>, <c>"2379"</c>):
/// the tests compare what a file says, not what a YAML 1.1 or 1.2 reader would make of it.
/// </summary>
internal static class Yaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder().Build();

    /// <summary>Every non-empty document of <paramref name="text"/>; throws <see cref="YamlException"/> on a syntax error.</summary>
    public static IReadOnlyList<JsonNode> ParseAll(string text)
    {
        var documents = new List<JsonNode>();
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        while (parser.Accept<DocumentStart>(out _))
        {
            var document = Deserializer.Deserialize<object?>(parser);
            if (document is not null)
            {
                documents.Add(ToJson(document)!);
            }
        }

        return documents;
    }

    public static JsonNode ParseSingle(string text)
    {
        var documents = ParseAll(text);
        Assert.True(documents.Count == 1, $"expected one YAML document, found {documents.Count}");
        return documents[0];
    }

    /// <summary>A string value at <paramref name="node"/>, or null.</summary>
    public static string? Str(this JsonNode? node) => node is JsonValue value && value.TryGetValue<string>(out var text) ? text : null;

    /// <summary>The items of a sequence (empty when absent).</summary>
    public static IEnumerable<JsonNode> Items(this JsonNode? node) => node is JsonArray array ? array.OfType<JsonNode>() : [];

    /// <summary>The strings of a sequence of scalars (empty when absent).</summary>
    public static IReadOnlyList<string> Strings(this JsonNode? node) => [.. node.Items().Select(item => item.Str() ?? "")];

    private static JsonNode? ToJson(object? value) => value switch
    {
        null => null,
        IDictionary<object, object?> map => new JsonObject(map.Select(entry => KeyValuePair.Create(entry.Key.ToString()!, ToJson(entry.Value)))),
        IList<object?> list => new JsonArray([.. list.Select(ToJson)]),
        _ => JsonValue.Create(value.ToString()),
    };
}
