using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A Lease (coordination.k8s.io/v1), used for leader election and heartbeats.</summary>
public sealed record Lease : JsonModel, IKubernetesObject<Lease>
{
    public static ApiResource Resource { get; } = new("coordination.k8s.io", "v1", "Lease", "leases", true);

    public static JsonTypeInfo<Lease> JsonTypeInfo => KubernetesJsonContext.Default.Lease;

    public static JsonTypeInfo<KubernetesList<Lease>> ListJsonTypeInfo => KubernetesJsonContext.Default.LeaseList;

    public string? ApiVersion { get; init; } = "coordination.k8s.io/v1";

    public string? Kind { get; init; } = "Lease";

    public ObjectMeta Metadata { get; init; } = new();

    public LeaseSpec? Spec { get; init; }
}

/// <summary>Who holds a lease and until when.</summary>
public sealed record LeaseSpec : JsonModel
{
    public string? HolderIdentity { get; init; }

    public int? LeaseDurationSeconds { get; init; }

    [JsonConverter(typeof(MicroTimeConverter))]
    public DateTimeOffset? AcquireTime { get; init; }

    [JsonConverter(typeof(MicroTimeConverter))]
    public DateTimeOffset? RenewTime { get; init; }

    public int? LeaseTransitions { get; init; }
}
