using System.Text.Json.Serialization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// <c>cilium/cluster-config/&lt;cluster&gt;</c>: what a cluster tells its peers about itself. Readers
/// refuse a cluster without it. Fields in Cilium's declaration order.
/// </summary>
public sealed record CiliumClusterConfig
{
    /// <summary>The cluster ID (omitted when 0).</summary>
    [JsonPropertyName("id")]
    [GoOmitEmpty]
    public uint Id { get; init; }

    /// <summary>Always written, <c>{}</c> when empty (Go never omits a struct).</summary>
    [JsonPropertyName("capabilities")]
    public ClusterCapabilities Capabilities { get; init => field = value ?? new(); } = new();
}

/// <summary>The <c>capabilities</c> object of <see cref="CiliumClusterConfig"/>.</summary>
public sealed record ClusterCapabilities
{
    /// <summary>The cluster writes <c>cilium/synced/...</c> canaries: readers wait for them.</summary>
    [JsonPropertyName("syncedCanaries")]
    [GoOmitEmpty]
    public bool SyncedCanaries { get; init; }

    /// <summary>The data lives under <c>cilium/cache/...</c> (a copy made by kvstoremesh).</summary>
    [JsonPropertyName("cached")]
    [GoOmitEmpty]
    public bool Cached { get; init; }

    /// <summary>255 or 511; omitted when 0 (peers then assume 255).</summary>
    [JsonPropertyName("maxConnectedClusters")]
    [GoOmitEmpty]
    public uint MaxConnectedClusters { get; init; }

    /// <summary>MCS-API service exports: null when the peer predates them; Cilium writes true or false.</summary>
    [JsonPropertyName("serviceExportsEnabled")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ServiceExportsEnabled { get; init; }

    /// <summary>e.g. <c>endpointslices-only</c>; omitted when empty.</summary>
    [JsonPropertyName("endpointSlicesExportMode")]
    [GoOmitEmpty]
    public string? EndpointSlicesExportMode { get; init; }
}
