using Federation.Etcd.ClusterMesh;
using Federation.NodeAgent.Tunnels;

namespace Federation.NodeAgent.Tests.Tunnels;

public sealed class WireGuardDumpTests
{
    [Fact]
    public void A_dump_gives_each_peer_its_endpoint_allowed_ips_handshake_and_bytes()
    {
        var dump = WireGuardDump.Parse(
            "cPrivate=\tqPublic=\t51871\toff\n"
            + "kB=\t(none)\t192.168.77.2:51871\t10.102.1.0/24,fd00:102::/64\t1700000000\t1234\t5678\t25\n"
            + "kC=\t(none)\t(none)\t(none)\t0\t0\t148\toff\n");

        Assert.Equal("qPublic=", dump.PublicKey);
        Assert.Equal(51871, dump.ListenPort);
        Assert.Equal(2, dump.Peers.Length);
        var b = dump.Peers[0];
        Assert.Equal("192.168.77.2:51871", b.Endpoint);
        Assert.Equal(["10.102.1.0/24", "fd00:102::/64"], b.AllowedIps.ToArray());
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1700000000), b.LatestHandshake);
        Assert.Equal((1234, 5678, 25), (b.ReceivedBytes, b.TransmittedBytes, b.PersistentKeepalive));
        var c = dump.Peers[1];
        Assert.Null(c.Endpoint);
        Assert.Empty(c.AllowedIps);
        Assert.Null(c.LatestHandshake);
        Assert.Equal(0, c.PersistentKeepalive);
    }

    [Fact]
    public void Text_that_is_not_a_dump_is_a_format_error()
    {
        Assert.Throws<FormatException>(() => WireGuardDump.Parse(""));
        Assert.Throws<FormatException>(() => WireGuardDump.Parse("a\tb\n"));
        Assert.Throws<FormatException>(() => WireGuardDump.Parse("a\tb\t1\toff\nx\ty\n"));
    }

    [Fact]
    public void A_node_record_becomes_a_peer_with_its_internal_ip_and_every_pod_cidr()
    {
        var node = new Node
        {
            Name = "n1",
            Cluster = "c2",
            IPAddresses = [new NodeAddress { Type = "ExternalIP", IP = "203.0.113.9" }, new NodeAddress { Type = "InternalIP", IP = "fd00::2" }, new NodeAddress { Type = "InternalIP", IP = "192.168.77.2" }],
            IPv4AllocCidr = NodeCidr.Create("10.102.1.0", 24),
            IPv4SecondaryAllocCidrs = [NodeCidr.Create("10.103.0.0", 16)],
            IPv6AllocCidr = NodeCidr.Create("fd00:102::", 64),
            WireguardPubKey = "kB=",
        };

        var tunnel = WireGuardNodeObserver.FromNode(node);

        Assert.Equal(new RemoteNodeTunnel { Cluster = "c2", Node = "n1", PublicKey = "kB=", EndpointIP = "192.168.77.2", PodCidrs = ["fd00:102::/64", "10.102.1.0/24", "10.103.0.0/16"] }, tunnel);
        var (peer, reason, _) = (tunnel with { PublicKey = Convert.ToBase64String(new byte[32]) }).Validate(51871);
        Assert.Null(reason);
        Assert.Equal("192.168.77.2:51871", peer!.Endpoint);
        Assert.Equal(3, peer.AllowedIps.Count);
    }

    [Fact]
    public void An_ipv6_endpoint_is_bracketed_and_a_cidr_with_host_bits_is_rejected()
    {
        var tunnel = new RemoteNodeTunnel { Cluster = "c", Node = "n", PublicKey = Convert.ToBase64String(new byte[32]), EndpointIP = "fd00::2", PodCidrs = ["10.1.0.0/16"] };
        Assert.Equal("[fd00::2]:51871", tunnel.Validate(51871).Peer!.Endpoint);
        Assert.Equal("cidr", (tunnel with { PodCidrs = ["10.1.0.1/16"] }).Validate(51871).Reason);
        Assert.Equal("endpoint", (tunnel with { EndpointIP = "" }).Validate(51871).Reason);
    }
}
