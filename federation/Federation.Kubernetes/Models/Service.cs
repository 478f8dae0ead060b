using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A Service: a stable virtual address for a set of pods.</summary>
public sealed record Service : JsonModel, IKubernetesObject<Service>
{
    public static ApiResource Resource { get; } = new("", "v1", "Service", "services", true);

    public static JsonTypeInfo<Service> JsonTypeInfo => KubernetesJsonContext.Default.Service;

    public static JsonTypeInfo<KubernetesList<Service>> ListJsonTypeInfo => KubernetesJsonContext.Default.ServiceList;

    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "Service";

    public ObjectMeta Metadata { get; init; } = new();

    public ServiceSpec? Spec { get; init; }

    public ServiceStatus? Status { get; init; }
}

/// <summary>The desired state of a Service.</summary>
public sealed record ServiceSpec : JsonModel
{
    /// <summary><c>ClusterIP</c>, <c>NodePort</c>, <c>LoadBalancer</c> or <c>ExternalName</c>.</summary>
    public string? Type { get; init; }

    [JsonPropertyName("clusterIP")]
    public string? ClusterIP { get; init; }

    [JsonPropertyName("clusterIPs")]
    public IReadOnlyList<string>? ClusterIPs { get; init; }

    public IReadOnlyList<ServicePort>? Ports { get; init; }

    public IReadOnlyDictionary<string, string>? Selector { get; init; }

    public string? SessionAffinity { get; init; }

    [JsonPropertyName("ipFamilies")]
    public IReadOnlyList<string>? IpFamilies { get; init; }

    public string? IpFamilyPolicy { get; init; }

    public bool? PublishNotReadyAddresses { get; init; }

    public string? InternalTrafficPolicy { get; init; }
}

/// <summary>One port of a Service.</summary>
public sealed record ServicePort : JsonModel
{
    public string? Name { get; init; }

    public string? Protocol { get; init; }

    public int Port { get; init; }

    public IntOrString? TargetPort { get; init; }

    public int? NodePort { get; init; }

    public string? AppProtocol { get; init; }
}

/// <summary>Modelled because every Service carries it: unmodelled fields cost a cloned JSON document each on read.</summary>
public sealed record ServiceStatus : JsonModel
{
    public LoadBalancerStatus? LoadBalancer { get; init; }
}

public sealed record LoadBalancerStatus : JsonModel
{
    public IReadOnlyList<LoadBalancerIngress>? Ingress { get; init; }
}

public sealed record LoadBalancerIngress : JsonModel
{
    [JsonPropertyName("ip")]
    public string? Ip { get; init; }

    public string? Hostname { get; init; }
}
