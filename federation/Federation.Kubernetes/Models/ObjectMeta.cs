using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>The metadata every persisted object has.</summary>
public sealed record ObjectMeta : JsonModel
{
    public string? Name { get; init; }

    public string? GenerateName { get; init; }

    public string? Namespace { get; init; }

    [JsonPropertyName("uid")]
    public string? Uid { get; init; }

    public string? ResourceVersion { get; init; }

    public long? Generation { get; init; }

    [JsonConverter(typeof(KubernetesTimeConverter))]
    public DateTimeOffset? CreationTimestamp { get; init; }

    [JsonConverter(typeof(KubernetesTimeConverter))]
    public DateTimeOffset? DeletionTimestamp { get; init; }

    public IReadOnlyDictionary<string, string>? Labels { get; init; }

    public IReadOnlyDictionary<string, string>? Annotations { get; init; }

    public IReadOnlyList<OwnerReference>? OwnerReferences { get; init; }

    public IReadOnlyList<string>? Finalizers { get; init; }
}

/// <summary>Names the object that owns this one (garbage collection follows it).</summary>
public sealed record OwnerReference : JsonModel
{
    public string ApiVersion { get; init; } = string.Empty;

    public string Kind { get; init; } = string.Empty;

    public string Name { get; init; } = string.Empty;

    [JsonPropertyName("uid")]
    public string Uid { get; init; } = string.Empty;

    public bool? Controller { get; init; }

    public bool? BlockOwnerDeletion { get; init; }
}

/// <summary>The metadata of a list: the snapshot's resource version and the continue token.</summary>
public sealed record ListMeta : JsonModel
{
    public string? ResourceVersion { get; init; }

    public string? Continue { get; init; }

    public long? RemainingItemCount { get; init; }
}

/// <summary>A reference to another object (e.g. an endpoint's target pod).</summary>
public sealed record ObjectReference : JsonModel
{
    public string? ApiVersion { get; init; }

    public string? Kind { get; init; }

    public string? Namespace { get; init; }

    public string? Name { get; init; }

    [JsonPropertyName("uid")]
    public string? Uid { get; init; }

    public string? ResourceVersion { get; init; }
}
