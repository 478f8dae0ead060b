using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.Lab.DemoApp;

/// <summary>What <c>GET /</c> answers.</summary>
internal sealed record ServiceAnswer(
    [property: JsonPropertyName("service")] string Service,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("cluster")] string Cluster,
    [property: JsonPropertyName("pod")] string Pod,
    [property: JsonPropertyName("peer")] string? Peer,
    [property: JsonPropertyName("upstream")] JsonElement? Upstream,
    [property: JsonPropertyName("error")] string? Error);

/// <summary>One line of <c>request</c>'s output.</summary>
internal sealed record RequestResult(
    [property: JsonPropertyName("seq")] int Seq,
    [property: JsonPropertyName("status")] int? Status,
    [property: JsonPropertyName("ms")] double Ms,
    [property: JsonPropertyName("body")] JsonElement? Body,
    [property: JsonPropertyName("error")] string? Error);

[JsonSerializable(typeof(ServiceAnswer))]
[JsonSerializable(typeof(RequestResult))]
[JsonSerializable(typeof(JsonElement))]
internal sealed partial class DemoJsonContext : JsonSerializerContext;
