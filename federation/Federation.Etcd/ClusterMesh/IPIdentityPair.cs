using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// <c>cilium/state/ip/v1/default/&lt;ip&gt;</c>: which security identity an endpoint IP has and which node
/// hosts it (Go field names, declaration order). The key is the IP, or <c>ip/len</c> when
/// <see cref="Mask"/> is set.
/// </summary>
public sealed record IPIdentityPair
{
    [JsonPropertyName("IP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IP { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>
    /// Three states: null = absent (newer Cilium omits a nil mask), <see cref="IPMask.JsonNull"/> =
    /// written as <c>"Mask":null</c> (older Cilium), or the mask bytes.
    /// </summary>
    [JsonPropertyName("Mask")]
    [JsonConverter(typeof(IPMaskConverter))]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IPMask? Mask { get; init; }

    /// <summary>The IP of the node hosting the endpoint.</summary>
    [JsonPropertyName("HostIP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string HostIP { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>The numeric security identity.</summary>
    [JsonPropertyName("ID")]
    public uint Id { get; init; }

    /// <summary>IPsec key index.</summary>
    [JsonPropertyName("Key")]
    public byte Key { get; init; }

    [JsonPropertyName("Metadata")]
    public string Metadata { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("K8sNamespace")]
    [GoOmitEmpty]
    public string K8sNamespace { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("K8sPodName")]
    [GoOmitEmpty]
    public string K8sPodName { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("K8sPodUID")]
    [GoOmitEmpty]
    public string K8sPodUid { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("K8sServiceAccount")]
    [GoOmitEmpty]
    public string K8sServiceAccount { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("NamedPorts")]
    [GoOmitEmpty]
    public ImmutableList<NamedPort>? NamedPorts { get; init; }

    /// <summary>The key name Cilium derives from the value: the IP, plus <c>/len</c> when a mask is set.</summary>
    [JsonIgnore]
    public string KeyName => Mask is { IsJsonNull: false } mask ? $"{IP}/{mask.PrefixLength ?? 0}" : IP;

    public bool Equals(IPIdentityPair? other) =>
        other is not null
        && IP == other.IP
        && Equals(Mask, other.Mask)
        && HostIP == other.HostIP
        && Id == other.Id
        && Key == other.Key
        && Metadata == other.Metadata
        && K8sNamespace == other.K8sNamespace
        && K8sPodName == other.K8sPodName
        && K8sPodUid == other.K8sPodUid
        && K8sServiceAccount == other.K8sServiceAccount
        && ((NamedPorts is not { Count: > 0 } && other.NamedPorts is not { Count: > 0 }) || WireEquality.ListEquals(NamedPorts, other.NamedPorts));

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(IP);
        hash.Add(Mask);
        hash.Add(HostIP);
        hash.Add(Id);
        hash.Add(Key);
        hash.Add(Metadata);
        hash.Add(K8sNamespace);
        hash.Add(K8sPodName);
        hash.Add(K8sPodUid);
        hash.Add(K8sServiceAccount);
        hash.Add(NamedPorts is { Count: > 0 } ? WireEquality.ListHash(NamedPorts) : 0);
        return hash.ToHashCode();
    }
}

/// <summary>A named container port of the endpoint: <c>{"Name":"http","Port":8080,"Protocol":"TCP"}</c>.</summary>
public sealed record NamedPort
{
    [JsonPropertyName("Name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("Port")]
    public ushort Port { get; init; }

    [JsonPropertyName("Protocol")]
    public string Protocol { get; init => field = value ?? string.Empty; } = string.Empty;
}
