using System.Globalization;

namespace Federation.Cli.Lab;

public sealed partial class LabRunner
{
    /// <summary>
    /// The underlay: a bridge in its own namespace; each node a namespace with <c>eth0</c> (a veth on the bridge, the
    /// node's InternalIP); the node's pod IPs are /32 addresses on its <c>lo</c> (no dummy devices: modules cannot load here). Nodes of one cluster route to each
    /// other's pod CIDRs over the underlay; between clusters the node agents route through WireGuard (or, with
    /// <c>--encryption none</c>, the lab adds plain underlay routes).
    /// </summary>
    private void CreateNetwork(LabState state)
    {
        AddNamespace(state, UnderlayNamespace);
        LabSystem.Ip("-n", UnderlayNamespace, "link", "set", "lo", "up");
        LabSystem.Ip("-n", UnderlayNamespace, "link", "add", "br0", "type", "bridge");
        LabSystem.Ip("-n", UnderlayNamespace, "link", "set", "br0", "up");
        var all = state.Clusters.SelectMany(c => c.Nodes.Select(n => (Cluster: c, Node: n))).ToList();
        foreach (var (cluster, node) in all)
        {
            AddNamespace(state, node.Namespace);
            var ns = node.Namespace;
            LabSystem.Ip("-n", UnderlayNamespace, "link", "add", node.UnderlayVeth, "type", "veth", "peer", "name", "eth0", "netns", ns);
            LabSystem.Ip("-n", UnderlayNamespace, "link", "set", node.UnderlayVeth, "master", "br0");
            LabSystem.Ip("-n", UnderlayNamespace, "link", "set", node.UnderlayVeth, "up");
            LabSystem.Ip("-n", ns, "link", "set", "lo", "up");
            LabSystem.Ip("-n", ns, "addr", "add", node.Address + "/16", "dev", "eth0");
            LabSystem.Ip("-n", ns, "link", "set", "eth0", "up");
            LabSystem.Run("ip", ["netns", "exec", ns, "sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]);

            // The node's own address in its pod CIDR (.1): the source of its traffic to remote pods through WireGuard,
            // which accepts only sources inside the sending node's pod CIDR.
            LabSystem.Ip("-n", ns, "addr", "add", PodIp(node, 1) + "/32", "dev", "lo");
        }

        foreach (var (cluster, node) in all)
        {
            foreach (var (otherCluster, other) in all.Where(o => o.Node != node))
            {
                if (otherCluster == cluster || state.Encryption == "none")
                {
                    LabSystem.Ip("-n", node.Namespace, "route", "add", other.PodCidr, "via", other.Address, "dev", "eth0");
                }
            }
        }
    }

    private void AddNamespace(LabState state, string name)
    {
        state.Namespaces.Add(name);
        state.Save();
        LabSystem.Ip("netns", "add", name);
    }

    private static void CreateCgroups(LabState state)
    {
        var root = Path.Combine(LabSystem.CgroupRoot, Prefix);
        state.Cgroups.Add(root);
        state.Save();
        System.IO.Directory.CreateDirectory(root);
        foreach (var node in state.Clusters.SelectMany(c => c.Nodes))
        {
            System.IO.Directory.CreateDirectory(node.Cgroup);
        }

        state.BpfDirectories.Add(Path.Combine(LabSystem.BpfFsRoot, Prefix));
        state.Save();
    }

    /// <summary>A pod IP of <paramref name="node"/>: host <paramref name="host"/> of its pod CIDR.</summary>
    public static string PodIp(LabNode node, int host)
    {
        var parts = node.PodCidr.Split('/')[0].Split('.');
        return string.Create(CultureInfo.InvariantCulture, $"{parts[0]}.{parts[1]}.{parts[2]}.{host}");
    }
}
