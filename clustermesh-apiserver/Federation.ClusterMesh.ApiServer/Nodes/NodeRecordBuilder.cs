using System.Collections.Immutable;
using System.Globalization;
using System.Net.Sockets;
using Federation.Etcd.ClusterMesh;
using KubeNode = Federation.Kubernetes.Models.Node;

namespace Federation.ClusterMesh.ApiServer.Nodes;

/// <summary>
/// The node record Cilium's clustermesh-apiserver writes, computed from a core Kubernetes Node (this system
/// has no CiliumNode): addresses, pod CIDRs, labels, the Cilium annotations and the WireGuard key.
/// </summary>
internal static class NodeRecordBuilder
{
    public const string WireguardAnnotation = "network.cilium.io/wg-pub-key";

    /// <summary>
    /// What the Cilium apiserver writes for nodes it exports ("custom-resource", see the ciliumnodes fixture); kept so
    /// readers that look at Source see the value they know. The node is exported from the Node object, not a CiliumNode.
    /// </summary>
    public const string Source = "custom-resource";

    /// <summary>
    /// Only the Cilium agent's own annotations (a CiliumNode carries no others, as in the ciliumnodes fixture):
    /// a Node's kubeadm/cloud annotations are no business of remote clusters.
    /// </summary>
    private const string CiliumAnnotationPrefix = "network.cilium.io/";

    /// <summary>The record, plus the pod CIDRs that could not be parsed (skipped).</summary>
    internal sealed record Result(Node Node, IReadOnlyList<string> InvalidCidrs);

    public static Result Build(KubeNode node, string cluster, uint clusterId)
    {
        ArgumentNullException.ThrowIfNull(node);
        var addresses = ImmutableList.CreateBuilder<NodeAddress>();
        foreach (var address in node.Status?.Addresses ?? [])
        {
            if (address.Type is "InternalIP" or "ExternalIP" && GoIPText.TryParse(address.Address, out var ip))
            {
                addresses.Add(new NodeAddress { Type = address.Type, IP = GoIPText.Format(ip) });
            }
        }

        var invalid = new List<string>();
        var v4 = new List<NodeCidr>();
        var v6 = new List<NodeCidr>();
        IEnumerable<string> cidrs = node.Spec?.PodCIDRs is { Count: > 0 } list ? list : node.Spec?.PodCIDR is { Length: > 0 } single ? [single] : [];
        foreach (var text in cidrs)
        {
            if (TryParseCidr(text, out var cidr, out var family))
            {
                (family == AddressFamily.InterNetwork ? v4 : v6).Add(cidr);
            }
            else
            {
                invalid.Add(text);
            }
        }

        var annotations = node.Metadata.Annotations;
        var cilium = annotations?.Where(a => a.Key.StartsWith(CiliumAnnotationPrefix, StringComparison.Ordinal)).ToImmutableDictionary(StringComparer.Ordinal);
        var record = new Node
        {
            Name = node.Metadata.Name ?? string.Empty,
            Cluster = cluster,
            IPAddresses = addresses.Count > 0 ? addresses.ToImmutable() : null,
            IPv4AllocCidr = v4.FirstOrDefault(),
            IPv4SecondaryAllocCidrs = v4.Count > 1 ? [.. v4.Skip(1)] : null,
            IPv6AllocCidr = v6.FirstOrDefault(),
            IPv6SecondaryAllocCidrs = v6.Count > 1 ? [.. v6.Skip(1)] : null,
            ClusterId = clusterId,
            Source = Source,
            Labels = node.Metadata.Labels is { Count: > 0 } labels ? labels.ToImmutableDictionary(StringComparer.Ordinal) : null,
            Annotations = cilium is { Count: > 0 } ? cilium : null,
            WireguardPubKey = annotations is not null && annotations.TryGetValue(WireguardAnnotation, out var key) ? key : string.Empty,
        };
        return new Result(record, invalid);
    }

    private static bool TryParseCidr(string text, out NodeCidr cidr, out AddressFamily family)
    {
        cidr = null!;
        family = AddressFamily.Unspecified;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0
            || !GoIPText.TryParse(text[..slash], out var ip)
            || !int.TryParse(text.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var length))
        {
            return false;
        }

        family = ip.AddressFamily;
        var bits = family == AddressFamily.InterNetwork ? 32 : 128;
        if (length > bits)
        {
            return false;
        }

        // As Go's net.ParseCIDR: the network address, host bits cleared.
        var bytes = ip.GetAddressBytes();
        for (var i = 0; i < bytes.Length; i++)
        {
            var keep = Math.Clamp(length - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        cidr = NodeCidr.Create(GoIPText.Format(new System.Net.IPAddress(bytes)), length);
        return true;
    }
}
