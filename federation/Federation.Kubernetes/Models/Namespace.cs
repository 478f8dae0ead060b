using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A namespace (cluster-scoped).</summary>
public sealed record Namespace : JsonModel, IKubernetesObject<Namespace>
{
    public static ApiResource Resource { get; } = new("", "v1", "Namespace", "namespaces", false);

    public static JsonTypeInfo<Namespace> JsonTypeInfo => KubernetesJsonContext.Default.Namespace;

    public static JsonTypeInfo<KubernetesList<Namespace>> ListJsonTypeInfo => KubernetesJsonContext.Default.NamespaceList;

    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "Namespace";

    public ObjectMeta Metadata { get; init; } = new();

    public NamespaceStatus? Status { get; init; }
}

/// <summary>The observed state of a namespace.</summary>
public sealed record NamespaceStatus : JsonModel
{
    /// <summary><c>Active</c> or <c>Terminating</c>.</summary>
    public string? Phase { get; init; }
}
