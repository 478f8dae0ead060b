using System.Collections.Immutable;
using System.Text;
using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

/// <summary>Values built in code come out exactly as Cilium writes them.</summary>
public sealed class ClusterMeshWireBuildTests
{
    [Fact]
    public void Built_service_with_backends_and_zones_matches_Cilium_bytes()
    {
        var service = new ClusterService
        {
            Cluster = "cluster3",
            Namespace = "test",
            Name = "echo",
            Frontends = PortMap("10.96.50.104", "http", "TCP", 80),
            Backends = PortMap("10.244.1.1", "http", "TCP", 8080),
            Zones = ImmutableDictionary<string, BackendZone>.Empty.Add(
                "10.244.1.1",
                new BackendZone { Zone = "zone1", ForZones = [new ForZone { Name = "zone1" }] }),
            Labels = ImmutableDictionary<string, string>.Empty,
            Selector = ImmutableDictionary<string, string>.Empty.Add("name", "echo"),
            IncludeExternal = true,
            Shared = true,
            ClusterId = 3,
        };

        AssertBytes(
            Step("operator-servicesync", "steps/02-services-2.expected.txt", ClusterMeshKeys.Service("cluster3", "test", "echo")),
            ClusterMeshJson.Serialize(service));
    }

    [Fact]
    public void Built_service_without_backends_writes_empty_maps_and_omits_zones()
    {
        var service = new ClusterService
        {
            Cluster = "cluster3",
            Namespace = "test",
            Name = "echo",
            Frontends = PortMap("10.96.50.104", "http", "TCP", 80),
            Backends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty,
            Hostnames = ImmutableDictionary<string, string>.Empty,
            Labels = ImmutableDictionary<string, string>.Empty,
            Selector = ImmutableDictionary<string, string>.Empty.Add("name", "echo"),
            IncludeExternal = true,
            Shared = true,
            ClusterId = 3,
        };

        AssertBytes(
            CiliumFixtures.ExpectedValue("operator-servicesync", ClusterMeshKeys.Service("cluster3", "test", "echo")),
            ClusterMeshJson.Serialize(service));
    }

    [Fact]
    public void Built_node_matches_Cilium_bytes_in_the_new_and_the_legacy_form()
    {
        var node = new Node
        {
            Name = "test-node-1",
            Cluster = "cluster3",
            IPAddresses =
            [
                new NodeAddress { Type = "InternalIP", IP = "172.18.0.2" },
                new NodeAddress { Type = "InternalIP", IP = "fc00:c111::2" },
                new NodeAddress { Type = "CiliumInternalIP", IP = "10.244.0.10" },
                new NodeAddress { Type = "CiliumInternalIP", IP = "fd00:10:244::e2d6" },
            ],
            IPv4AllocCidr = NodeCidr.Create("10.244.0.0", 24),
            IPv6AllocCidr = NodeCidr.Create("fd00:10:244::", 64),
            IPv4HealthIP = "10.244.0.134",
            IPv6HealthIP = "fd00:10:244::d812",
            ClusterId = 3,
            Source = "custom-resource",
            Labels = ImmutableDictionary<string, string>.Empty.Add("kubernetes.io/hostname", "test-node-1"),
            Annotations = ImmutableDictionary<string, string>.Empty.Add("network.cilium.io/wg-pub-key", "VRksOB6ZNds4oXWIGfSVpvc0gBhcOWFmzvTDcyvULlI="),
            WireguardPubKey = "VRksOB6ZNds4oXWIGfSVpvc0gBhcOWFmzvTDcyvULlI=",
            BootId = "570d3fd1-93db-4862-ba99-6a3c2c10c38f",
        };

        var key = ClusterMeshKeys.Node("cluster3", "test-node-1");
        AssertBytes(CiliumFixtures.ExpectedValue("ciliumnodes", key), ClusterMeshJson.Serialize(node));
        AssertBytes(CiliumFixtures.ExpectedValue("ciliumnodes.legacy", key), ClusterMeshJson.Serialize(node with { NodeIdentity = 0 }));
    }

    [Fact]
    public void Built_ip_pair_matches_Cilium_bytes_with_named_ports_and_with_a_null_mask()
    {
        var pair = new IPIdentityPair
        {
            IP = "10.244.2.74",
            HostIP = "172.18.0.2",
            Id = 199475,
            Key = 5,
            K8sNamespace = "bar",
            K8sPodName = "cep-002",
            K8sPodUid = "cep-pod-uid",
            K8sServiceAccount = "default",
            NamedPorts =
            [
                new NamedPort { Name = "http", Port = 8080, Protocol = "TCP" },
                new NamedPort { Name = "dns", Port = 53, Protocol = "UDP" },
            ],
        };

        var key = ClusterMeshKeys.Ip("10.244.2.74");
        AssertBytes(CiliumFixtures.ExpectedValue("ciliumendpoints", key), ClusterMeshJson.Serialize(pair));
        var legacy = pair with { Mask = IPMask.JsonNull, K8sPodUid = string.Empty, NamedPorts = [] };
        AssertBytes(CiliumFixtures.ExpectedValue("ciliumendpoints.legacy", key), ClusterMeshJson.Serialize(legacy));
    }

    [Fact]
    public void Built_ip_pair_with_a_mask_writes_base64_and_derives_the_prefix_key()
    {
        var pair = new IPIdentityPair { IP = "10.1.0.0", Mask = IPMask.FromPrefixLength(16, 32), HostIP = "172.18.0.2", Id = 2 };

        Assert.Equal(
            """{"IP":"10.1.0.0","Mask":"//8AAA==","HostIP":"172.18.0.2","ID":2,"Key":0,"Metadata":""}""",
            Encoding.UTF8.GetString(ClusterMeshJson.Serialize(pair)));
        Assert.Equal("10.1.0.0/16", pair.KeyName);
        Assert.Equal("10.1.0.0", (pair with { Mask = IPMask.JsonNull }).KeyName);
    }

    [Fact]
    public void Built_cluster_configs_match_Cilium_bytes()
    {
        var config = new CiliumClusterConfig
        {
            Id = 3,
            Capabilities = new ClusterCapabilities { SyncedCanaries = true, MaxConnectedClusters = 255, ServiceExportsEnabled = false },
        };
        AssertBytes(CiliumFixtures.ExpectedValue("clusterconfig", ClusterMeshKeys.ClusterConfig("cluster3")), ClusterMeshJson.Serialize(config));

        var endpointSlicesOnly = new CiliumClusterConfig
        {
            Id = 5,
            Capabilities = config.Capabilities with { EndpointSlicesExportMode = "endpointslices-only" },
        };
        AssertBytes(
            CiliumFixtures.ExpectedValue("clusterconfig-endpointslices-only", ClusterMeshKeys.ClusterConfig("cluster5")),
            ClusterMeshJson.Serialize(endpointSlicesOnly));
    }

    [Fact]
    public void Empty_cluster_config_still_writes_capabilities()
    {
        Assert.Equal("""{"capabilities":{}}""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(new CiliumClusterConfig())));
        Assert.Equal(
            """{"capabilities":{}}""",
            Encoding.UTF8.GetString(ClusterMeshJson.Serialize(new CiliumClusterConfig { Capabilities = new() { EndpointSlicesExportMode = "" } })));
    }

    [Fact]
    public void Built_identity_labels_match_Cilium_bytes_whatever_the_input_order()
    {
        var labels = IdentityLabels.Create(
        [
            new IdentityLabel("k8s", "io.kubernetes.pod.namespace", "bar"),
            new IdentityLabel("k8s", "app", "baz"),
        ]).WithCluster("cluster3");

        AssertBytes(CiliumFixtures.ExpectedValue("ciliumidentitites", ClusterMeshKeys.Identity(196915)), ClusterMeshJson.Serialize(labels));
        Assert.Equal("cluster3", labels.Cluster);
    }

    private static ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>> PortMap(string ip, string port, string protocol, ushort number) =>
        ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty.Add(
            ip,
            ImmutableDictionary<string, L4Addr>.Empty.Add(port, new L4Addr { Protocol = protocol, Port = number }));

    private static byte[] Step(string scenario, string file, string key) =>
        CiliumFixtures.Values.Single(v => v.Scenario == scenario && v.File == file && v.Key == key).Value;

    private static void AssertBytes(byte[] expected, byte[] actual) =>
        Assert.Equal(Encoding.UTF8.GetString(expected), Encoding.UTF8.GetString(actual));
}
