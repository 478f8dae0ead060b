using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A slice of a Service's endpoints (discovery.k8s.io/v1).</summary>
public sealed record EndpointSlice : JsonModel, IKubernetesObject<EndpointSlice>
{
    public static ApiResource Resource { get; } = new("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true);

    public static JsonTypeInfo<EndpointSlice> JsonTypeInfo => KubernetesJsonContext.Default.EndpointSlice;

    public static JsonTypeInfo<KubernetesList<EndpointSlice>> ListJsonTypeInfo => KubernetesJsonContext.Default.EndpointSliceList;

    public string? ApiVersion { get; init; } = "discovery.k8s.io/v1";

    public string? Kind { get; init; } = "EndpointSlice";

    public ObjectMeta Metadata { get; init; } = new();

    /// <summary><c>IPv4</c>, <c>IPv6</c> or <c>FQDN</c>.</summary>
    public string? AddressType { get; init; }

    public IReadOnlyList<Endpoint>? Endpoints { get; init; }

    public IReadOnlyList<EndpointPort>? Ports { get; init; }
}

/// <summary>One backend of an EndpointSlice.</summary>
public sealed record Endpoint : JsonModel
{
    public IReadOnlyList<string> Addresses { get; init; } = [];

    public EndpointConditions? Conditions { get; init; }

    public string? Hostname { get; init; }

    public string? NodeName { get; init; }

    public string? Zone { get; init; }

    public ObjectReference? TargetRef { get; init; }
}

/// <summary>The readiness of an endpoint; a missing value means unknown.</summary>
public sealed record EndpointConditions : JsonModel
{
    public bool? Ready { get; init; }

    public bool? Serving { get; init; }

    public bool? Terminating { get; init; }
}

/// <summary>A port of every endpoint in an EndpointSlice.</summary>
public sealed record EndpointPort : JsonModel
{
    public string? Name { get; init; }

    public string? Protocol { get; init; }

    public int? Port { get; init; }

    public string? AppProtocol { get; init; }
}
