using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A pod.</summary>
public sealed record Pod : JsonModel, IKubernetesObject<Pod>
{
    public static ApiResource Resource { get; } = new("", "v1", "Pod", "pods", true);

    public static JsonTypeInfo<Pod> JsonTypeInfo => KubernetesJsonContext.Default.Pod;

    public static JsonTypeInfo<KubernetesList<Pod>> ListJsonTypeInfo => KubernetesJsonContext.Default.PodList;

    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "Pod";

    public ObjectMeta Metadata { get; init; } = new();

    public PodSpec? Spec { get; init; }

    public PodStatus? Status { get; init; }
}

/// <summary>The desired state of a pod.</summary>
public sealed record PodSpec : JsonModel
{
    public string? NodeName { get; init; }

    public IReadOnlyList<Container> Containers { get; init; } = [];

    public bool? HostNetwork { get; init; }
}

/// <summary>One container of a pod.</summary>
public sealed record Container : JsonModel
{
    public string Name { get; init; } = string.Empty;

    public string? Image { get; init; }

    public IReadOnlyList<string>? Command { get; init; }

    public IReadOnlyList<string>? Args { get; init; }

    public IReadOnlyList<ContainerPortSpec>? Ports { get; init; }
}

/// <summary>A port a container listens on (Kubernetes' <c>ContainerPort</c>).</summary>
public sealed record ContainerPortSpec : JsonModel
{
    public string? Name { get; init; }

    public int ContainerPort { get; init; }

    public string? Protocol { get; init; }
}

/// <summary>The observed state of a pod.</summary>
public sealed record PodStatus : JsonModel
{
    /// <summary><c>Pending</c>, <c>Running</c>, <c>Succeeded</c>, <c>Failed</c> or <c>Unknown</c>.</summary>
    public string? Phase { get; init; }

    [JsonPropertyName("podIP")]
    public string? PodIP { get; init; }

    [JsonPropertyName("podIPs")]
    public IReadOnlyList<PodIP>? PodIPs { get; init; }

    [JsonPropertyName("hostIP")]
    public string? HostIP { get; init; }

    public IReadOnlyList<PodCondition>? Conditions { get; init; }

    public IReadOnlyList<ContainerStatus>? ContainerStatuses { get; init; }
}

/// <summary>One address of a pod.</summary>
public sealed record PodIP : JsonModel
{
    [JsonPropertyName("ip")]
    public string? Ip { get; init; }
}

/// <summary>A condition of a pod, e.g. <c>Ready</c>.</summary>
public sealed record PodCondition : JsonModel
{
    public string Type { get; init; } = string.Empty;

    /// <summary><c>True</c>, <c>False</c> or <c>Unknown</c>.</summary>
    public string Status { get; init; } = string.Empty;

    public string? Reason { get; init; }

    public string? Message { get; init; }

    [JsonConverter(typeof(KubernetesTimeConverter))]
    public DateTimeOffset? LastTransitionTime { get; init; }
}

/// <summary>The observed state of one container.</summary>
public sealed record ContainerStatus : JsonModel
{
    public string Name { get; init; } = string.Empty;

    public bool Ready { get; init; }

    public int? RestartCount { get; init; }

    public string? Image { get; init; }
}
