using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A node (cluster-scoped).</summary>
public sealed record Node : JsonModel, IKubernetesObject<Node>
{
    public static ApiResource Resource { get; } = new("", "v1", "Node", "nodes", false);

    public static JsonTypeInfo<Node> JsonTypeInfo => KubernetesJsonContext.Default.Node;

    public static JsonTypeInfo<KubernetesList<Node>> ListJsonTypeInfo => KubernetesJsonContext.Default.NodeList;

    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "Node";

    public ObjectMeta Metadata { get; init; } = new();

    public NodeSpec? Spec { get; init; }

    public NodeStatus? Status { get; init; }
}

/// <summary>The desired state of a node.</summary>
public sealed record NodeSpec : JsonModel
{
    [JsonPropertyName("podCIDR")]
    public string? PodCIDR { get; init; }

    [JsonPropertyName("podCIDRs")]
    public IReadOnlyList<string>? PodCIDRs { get; init; }

    public bool? Unschedulable { get; init; }
}

/// <summary>The observed state of a node.</summary>
public sealed record NodeStatus : JsonModel
{
    public IReadOnlyList<NodeAddress>? Addresses { get; init; }

    public IReadOnlyList<NodeCondition>? Conditions { get; init; }
}

/// <summary>One address of a node.</summary>
public sealed record NodeAddress : JsonModel
{
    /// <summary><c>InternalIP</c>, <c>ExternalIP</c>, <c>Hostname</c>, …</summary>
    public string Type { get; init; } = string.Empty;

    public string Address { get; init; } = string.Empty;
}

/// <summary>A condition of a node, e.g. <c>Ready</c>.</summary>
public sealed record NodeCondition : JsonModel
{
    public string Type { get; init; } = string.Empty;

    public string Status { get; init; } = string.Empty;

    public string? Reason { get; init; }

    public string? Message { get; init; }

    [JsonConverter(typeof(KubernetesTimeConverter))]
    public DateTimeOffset? LastHeartbeatTime { get; init; }

    [JsonConverter(typeof(KubernetesTimeConverter))]
    public DateTimeOffset? LastTransitionTime { get; init; }
}
