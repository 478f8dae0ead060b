using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;

namespace Federation.NodeAgent.Tunnels;

/// <summary>A remote node as the tunnel needs it: who it is, its WireGuard public key, where to send, which pod CIDRs are behind it.</summary>
internal sealed record RemoteNodeTunnel
{
    public required string Cluster { get; init; }

    public required string Node { get; init; }

    /// <summary>Base64, as <c>wg pubkey</c> prints it.</summary>
    public required string PublicKey { get; init; }

    /// <summary>The node's InternalIP: the peer's endpoint address.</summary>
    public required string EndpointIP { get; init; }

    public ImmutableArray<string> PodCidrs { get; init; } = [];

    public bool Equals(RemoteNodeTunnel? other) =>
        other is not null && Cluster == other.Cluster && Node == other.Node && PublicKey == other.PublicKey && EndpointIP == other.EndpointIP
        && PodCidrs.Order(StringComparer.Ordinal).SequenceEqual(other.PodCidrs.Order(StringComparer.Ordinal));

    public override int GetHashCode() => HashCode.Combine(Cluster, Node, PublicKey, EndpointIP, PodCidrs.Length);

    /// <summary>The peer for this record, or the reason it cannot be one ("key", "endpoint", "cidr", "name").</summary>
    internal (TunnelPeer? Peer, string? Reason, string? Detail) Validate(int port)
    {
        if (string.IsNullOrEmpty(Cluster) || string.IsNullOrEmpty(Node))
        {
            return (null, "name", "empty cluster or node name");
        }

        if (!WireGuardKeys.IsValidKey(PublicKey))
        {
            return (null, "key", $"public key \"{PublicKey}\" is not 32 bytes of base64");
        }

        // IPAddress.TryParse takes legacy forms ("192.168.77" is 192.168.0.77): an IPv4 endpoint must be a dotted quad.
        if (!IPAddress.TryParse(EndpointIP, out var endpoint) || endpoint.Equals(IPAddress.Any) || endpoint.Equals(IPAddress.IPv6Any)
            || (endpoint.AddressFamily == AddressFamily.InterNetwork && endpoint.ToString() != EndpointIP))
        {
            return (null, "endpoint", $"endpoint \"{EndpointIP}\" is not an IP address");
        }

        var cidrs = ImmutableSortedSet.CreateBuilder<string>(StringComparer.Ordinal);
        foreach (var text in PodCidrs)
        {
            // A base address with host bits set ("10.1.1.1/24") is a typo somewhere upstream, not a network: reject it.
            if (!IPNetwork.TryParse(text, out var network) || !IPAddress.TryParse(text.Split('/')[0], out var address) || !address.Equals(network.BaseAddress))
            {
                return (null, "cidr", $"pod CIDR \"{text}\" is not a network address with a prefix length");
            }

            cidrs.Add(network.ToString());
        }

        var endpointText = endpoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endpoint}]:{port}" : $"{endpoint}:{port}";
        return (new TunnelPeer(new NodeId(Cluster, Node), PublicKey, endpointText, cidrs.ToImmutable()), null, null);
    }
}

/// <summary>A node's identity across key rotations: cluster and node name.</summary>
internal readonly record struct NodeId(string Cluster, string Node)
{
    public override string ToString() => $"{Cluster}/{Node}";
}

/// <summary>A validated peer: what is programmed for one remote node.</summary>
internal sealed record TunnelPeer(NodeId Id, string PublicKey, string Endpoint, ImmutableSortedSet<string> AllowedIps)
{
    public bool Equals(TunnelPeer? other) =>
        other is not null && Id == other.Id && PublicKey == other.PublicKey && Endpoint == other.Endpoint && AllowedIps.SetEquals(other.AllowedIps);

    public override int GetHashCode() => HashCode.Combine(Id, PublicKey, Endpoint, AllowedIps.Count);
}
