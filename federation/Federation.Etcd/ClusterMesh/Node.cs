using System.Collections.Immutable;
using System.Net.Sockets;
using System.Text.Json.Serialization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// <c>cilium/state/nodes/v1/&lt;cluster&gt;/&lt;node&gt;</c>: a node as Cilium's <c>node.Node</c> encodes it
/// (Go field names, declaration order). Nil slices and maps are null; unset IPs are "".
/// </summary>
public sealed record Node
{
    [JsonPropertyName("Name")]
    public string Name { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("Cluster")]
    public string Cluster { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("IPAddresses")]
    public ImmutableList<NodeAddress>? IPAddresses { get; init; }

    [JsonPropertyName("IPv4AllocCIDR")]
    public NodeCidr? IPv4AllocCidr { get; init; }

    [JsonPropertyName("IPv4SecondaryAllocCIDRs")]
    public ImmutableList<NodeCidr>? IPv4SecondaryAllocCidrs { get; init; }

    [JsonPropertyName("IPv6AllocCIDR")]
    public NodeCidr? IPv6AllocCidr { get; init; }

    [JsonPropertyName("IPv6SecondaryAllocCIDRs")]
    public ImmutableList<NodeCidr>? IPv6SecondaryAllocCidrs { get; init; }

    [JsonPropertyName("IPv4HealthIP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IPv4HealthIP { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("IPv6HealthIP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IPv6HealthIP { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("IPv4IngressIP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IPv4IngressIP { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("IPv6IngressIP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IPv6IngressIP { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("ClusterID")]
    public uint ClusterId { get; init; }

    /// <summary>"custom-resource" when written by the apiserver from a CiliumNode.</summary>
    [JsonPropertyName("Source")]
    public string Source { get; init => field = value ?? string.Empty; } = string.Empty;

    /// <summary>IPsec key index.</summary>
    [JsonPropertyName("EncryptionKey")]
    public byte EncryptionKey { get; init; }

    [JsonPropertyName("Labels")]
    public ImmutableDictionary<string, string>? Labels { get; init; }

    [JsonPropertyName("Annotations")]
    public ImmutableDictionary<string, string>? Annotations { get; init; }

    /// <summary>
    /// Written (as 0) by Cilium up to early 2026, gone in newer releases: null means "absent", so
    /// both forms read back as they were written.
    /// </summary>
    [JsonPropertyName("NodeIdentity")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public uint? NodeIdentity { get; init; }

    /// <summary>From the Node annotation <c>network.cilium.io/wg-pub-key</c>.</summary>
    [JsonPropertyName("WireguardPubKey")]
    public string WireguardPubKey { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("BootID")]
    public string BootId { get; init => field = value ?? string.Empty; } = string.Empty;

    public bool Equals(Node? other) =>
        other is not null
        && Name == other.Name
        && Cluster == other.Cluster
        && WireEquality.ListEquals(IPAddresses, other.IPAddresses)
        && Equals(IPv4AllocCidr, other.IPv4AllocCidr)
        && WireEquality.ListEquals(IPv4SecondaryAllocCidrs, other.IPv4SecondaryAllocCidrs)
        && Equals(IPv6AllocCidr, other.IPv6AllocCidr)
        && WireEquality.ListEquals(IPv6SecondaryAllocCidrs, other.IPv6SecondaryAllocCidrs)
        && IPv4HealthIP == other.IPv4HealthIP
        && IPv6HealthIP == other.IPv6HealthIP
        && IPv4IngressIP == other.IPv4IngressIP
        && IPv6IngressIP == other.IPv6IngressIP
        && ClusterId == other.ClusterId
        && Source == other.Source
        && EncryptionKey == other.EncryptionKey
        && WireEquality.MapEquals(Labels, other.Labels)
        && WireEquality.MapEquals(Annotations, other.Annotations)
        && NodeIdentity == other.NodeIdentity
        && WireguardPubKey == other.WireguardPubKey
        && BootId == other.BootId;

    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.Add(Name);
        hash.Add(Cluster);
        hash.Add(WireEquality.ListHash(IPAddresses));
        hash.Add(IPv4AllocCidr);
        hash.Add(WireEquality.ListHash(IPv4SecondaryAllocCidrs));
        hash.Add(IPv6AllocCidr);
        hash.Add(WireEquality.ListHash(IPv6SecondaryAllocCidrs));
        hash.Add(IPv4HealthIP);
        hash.Add(IPv6HealthIP);
        hash.Add(IPv4IngressIP);
        hash.Add(IPv6IngressIP);
        hash.Add(ClusterId);
        hash.Add(Source);
        hash.Add(EncryptionKey);
        hash.Add(WireEquality.MapHash(Labels));
        hash.Add(WireEquality.MapHash(Annotations));
        hash.Add(NodeIdentity);
        hash.Add(WireguardPubKey);
        hash.Add(BootId);
        return hash.ToHashCode();
    }
}

/// <summary>One node address: <c>{"Type":"InternalIP","IP":"172.18.0.2"}</c>.</summary>
public sealed record NodeAddress
{
    /// <summary>"InternalIP", "ExternalIP" or "CiliumInternalIP".</summary>
    [JsonPropertyName("Type")]
    public string Type { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("IP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IP { get; init => field = value ?? string.Empty; } = string.Empty;
}

/// <summary>Cilium's <c>cidr.CIDR</c>: <c>{"IP":"10.244.0.0","Mask":"////AA=="}</c>.</summary>
public sealed record NodeCidr
{
    [JsonPropertyName("IP")]
    [JsonConverter(typeof(GoIPConverter))]
    public string IP { get; init => field = value ?? string.Empty; } = string.Empty;

    [JsonPropertyName("Mask")]
    [JsonConverter(typeof(IPMaskConverter))]
    public IPMask? Mask { get; init; }

    /// <summary>A CIDR from an address and a prefix length, e.g. ("10.244.0.0", 24).</summary>
    public static NodeCidr Create(string ip, int prefixLength)
    {
        if (!GoIPText.TryParse(ip, out var address))
        {
            throw new ArgumentException($"\"{ip}\" is not an IP address", nameof(ip));
        }

        var bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        return new NodeCidr { IP = GoIPText.Format(address), Mask = IPMask.FromPrefixLength(prefixLength, bits) };
    }
}
