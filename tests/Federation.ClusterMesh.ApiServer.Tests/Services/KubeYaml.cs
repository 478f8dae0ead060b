using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Kubernetes.Models;
using YamlDotNet.RepresentationModel;

namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>
/// Reads Kubernetes YAML into the typed models: YAML → JSON with YAML 1.2 core-schema scalars (plain
/// true/false/null/numbers are typed, quoted values stay strings), then the models' own JSON contracts.
/// </summary>
internal static class KubeYaml
{
    public static T Parse<T>(string yaml)
        where T : class, IKubernetesObject<T>
        => ToJson(yaml).Deserialize(T.JsonTypeInfo) ?? throw new InvalidOperationException("empty YAML document");

    public static JsonNode ToJson(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return Convert(stream.Documents[0].RootNode) ?? throw new InvalidOperationException("empty YAML document");
    }

    private static JsonNode? Convert(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(c => KeyValuePair.Create(((YamlScalarNode)c.Key).Value!, Convert(c.Value)))),
        YamlSequenceNode seq => new JsonArray([.. seq.Children.Select(Convert)]),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new NotSupportedException(node.NodeType.ToString()),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style is not YamlDotNet.Core.ScalarStyle.Plain)
        {
            return JsonValue.Create(text);
        }

        return text switch
        {
            "" or "~" or "null" => null,
            "true" => JsonValue.Create(true),
            "false" => JsonValue.Create(false),
            _ when long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number) => JsonValue.Create(number),
            _ => JsonValue.Create(text),
        };
    }
}
