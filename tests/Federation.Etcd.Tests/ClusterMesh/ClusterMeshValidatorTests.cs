using System.Text;
using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

public sealed class ClusterMeshValidatorTests
{
    private static readonly RemoteClusterInfo Cluster3 = new("cluster3", 3);

    private const string NodeKey = "cilium/state/nodes/v1/cluster3/test-node-1";
    private const string ServiceKey = "cilium/state/services/v1/cluster3/test/echo";
    private const string IdentityKey = "cilium/state/identities/v1/id/196915";
    private const string IpKey = "cilium/state/ip/v1/default/10.244.2.74";

    [Fact]
    public void Every_fixture_entry_of_cluster3_is_accepted_with_its_decoded_value()
    {
        var accepted = new Dictionary<ClusterMeshKind, int>();
        foreach (var fixture in CiliumFixtures.Values.Where(v => v.Origin == FixtureOrigin.WrittenByCilium))
        {
            if (!ClusterMeshKindExtensions.TryGetKind(fixture.Key, out var kind))
            {
                continue;
            }

            var result = ClusterMeshValidator.Validate(kind, fixture.Key, fixture.Value, Cluster3);
            Assert.True(result.Ok, $"{fixture}: {result.Reason}");
            Assert.NotNull(result.Value);
            accepted[kind] = accepted.GetValueOrDefault(kind) + 1;
        }

        Assert.All(ClusterMeshKindExtensions.All, kind => Assert.True(accepted.GetValueOrDefault(kind) > 0, $"no {kind} accepted"));
    }

    [Fact]
    public void Typed_validation_returns_the_decoded_entry()
    {
        var node = ClusterMeshValidator.ValidateNode(NodeKey, Fixture("ciliumnodes", NodeKey), Cluster3);
        Assert.True(node.Ok, node.Reason);
        Assert.Equal("VRksOB6ZNds4oXWIGfSVpvc0gBhcOWFmzvTDcyvULlI=", node.Value!.WireguardPubKey);

        var identity = ClusterMeshValidator.ValidateIdentity(IdentityKey, Fixture("ciliumidentitites", IdentityKey), Cluster3);
        Assert.True(identity.Ok, identity.Reason);
        Assert.Equal(196915u, identity.Value!.Id);
        Assert.Equal("cluster3", identity.Value.Labels.Cluster);
    }

    [Fact]
    public void Cache_layout_keys_are_validated_against_the_remote_too()
    {
        var value = Fixture("ciliumidentitites", IdentityKey);
        Assert.True(ClusterMeshValidator.ValidateIdentity("cilium/cache/identities/v1/cluster3/id/196915", value, Cluster3).Ok);
        AssertRejected(ClusterMeshValidator.ValidateIdentity("cilium/cache/identities/v1/cluster4/id/196915", value, Cluster3), "cluster4");

        var node = Fixture("ciliumnodes", NodeKey);
        Assert.True(ClusterMeshValidator.ValidateNode("cilium/cache/nodes/v1/cluster3/test-node-1", node, Cluster3).Ok);
    }

    [Theory]
    [InlineData(ClusterMeshKind.Nodes, NodeKey)]
    [InlineData(ClusterMeshKind.Services, ServiceKey)]
    [InlineData(ClusterMeshKind.Ips, IpKey)]
    public void Truncated_json_is_rejected(ClusterMeshKind kind, string key)
    {
        var value = kind switch
        {
            ClusterMeshKind.Nodes => Fixture("ciliumnodes", key),
            ClusterMeshKind.Services => Fixture("operator-servicesync", key),
            _ => Fixture("ciliumendpoints", key),
        };

        AssertRejected(ClusterMeshValidator.Validate(kind, key, value.AsSpan(0, value.Length / 2), Cluster3), "invalid JSON");
    }

    [Fact]
    public void Wrong_json_types_are_rejected()
    {
        var service = Text(Fixture("operator-servicesync", ServiceKey)).Replace("\"clusterID\":3", "\"clusterID\":\"x\"", StringComparison.Ordinal);
        AssertRejected(ClusterMeshValidator.ValidateService(ServiceKey, Encoding.UTF8.GetBytes(service), Cluster3), "clusterID");

        var node = Text(Fixture("ciliumnodes", NodeKey)).Replace("\"IPAddresses\":[", "\"IPAddresses\":{\"x\":[", StringComparison.Ordinal);
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, Encoding.UTF8.GetBytes(node), Cluster3), "invalid JSON");

        var ip = Text(Fixture("ciliumendpoints", IpKey)).Replace("\"ID\":199475", "\"ID\":true", StringComparison.Ordinal);
        AssertRejected(ClusterMeshValidator.ValidateIp(IpKey, Encoding.UTF8.GetBytes(ip), Cluster3), "ID");
    }

    [Fact]
    public void Key_naming_another_cluster_than_the_remote_is_rejected()
    {
        var value = Fixture("ciliumnodes", NodeKey);
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, value, new RemoteClusterInfo("cluster4", 3)), "cluster4");
        AssertRejected(
            ClusterMeshValidator.ValidateService(ServiceKey, Fixture("operator-servicesync", ServiceKey), new RemoteClusterInfo("cluster4", 3)),
            "not the remote cluster");
    }

    [Fact]
    public void Value_naming_another_cluster_than_its_key_is_rejected()
    {
        var node = Text(Fixture("ciliumnodes", NodeKey)).Replace("\"Cluster\":\"cluster3\"", "\"Cluster\":\"cluster9\"", StringComparison.Ordinal);
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, Encoding.UTF8.GetBytes(node), Cluster3), "cluster9");

        var service = Text(Fixture("operator-servicesync", ServiceKey)).Replace("\"cluster\":\"cluster3\"", "\"cluster\":\"cluster9\"", StringComparison.Ordinal);
        AssertRejected(ClusterMeshValidator.ValidateService(ServiceKey, Encoding.UTF8.GetBytes(service), Cluster3), "cluster9");
    }

    [Fact]
    public void Value_naming_another_object_than_its_key_is_rejected()
    {
        var otherNode = "cilium/state/nodes/v1/cluster3/test-node-9";
        AssertRejected(ClusterMeshValidator.ValidateNode(otherNode, Fixture("ciliumnodes", NodeKey), Cluster3), "name");

        var otherNamespace = "cilium/state/services/v1/cluster3/other/echo";
        AssertRejected(ClusterMeshValidator.ValidateService(otherNamespace, Fixture("operator-servicesync", ServiceKey), Cluster3), "namespace");
    }

    [Fact]
    public void Cluster_id_other_than_the_remotes_is_rejected()
    {
        var remote = Cluster3 with { Id = 4 };
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, Fixture("ciliumnodes", NodeKey), remote), "clusterID 3");
        AssertRejected(ClusterMeshValidator.ValidateService(ServiceKey, Fixture("operator-servicesync", ServiceKey), remote), "clusterID 3");
    }

    [Fact]
    public void Identity_outside_the_remotes_range_is_rejected()
    {
        var value = Fixture("ciliumidentitites", IdentityKey);
        AssertRejected(ClusterMeshValidator.ValidateIdentity(IdentityKey, value, Cluster3 with { Id = 4 }), "outside cluster 4's range");
        AssertRejected(ClusterMeshValidator.ValidateIdentity(ClusterMeshKeys.Identity(5), value, Cluster3), "identity 5");

        // 511 mode halves the per-cluster range: 196915 belongs to cluster 6 there, not 3.
        AssertRejected(ClusterMeshValidator.ValidateIdentity(IdentityKey, value, Cluster3 with { MaxConnectedClusters = 511 }), "range");
    }

    [Fact]
    public void Identity_labels_must_parse_and_name_the_remote()
    {
        AssertRejected(ClusterMeshValidator.ValidateIdentity(IdentityKey, "k8s:app=baz"u8, Cluster3), "end in ';'");
        AssertRejected(ClusterMeshValidator.ValidateIdentity(IdentityKey, "app;"u8, Cluster3), "source:key=value");
        AssertRejected(ClusterMeshValidator.ValidateIdentity(IdentityKey, "k8s:app=baz;"u8, Cluster3), "no k8s:io.cilium.k8s.policy.cluster");
        AssertRejected(
            ClusterMeshValidator.ValidateIdentity(IdentityKey, "k8s:app=baz;k8s:io.cilium.k8s.policy.cluster=cluster4;"u8, Cluster3),
            "cluster4");
        AssertRejected(ClusterMeshValidator.ValidateIdentity("cilium/state/identities/v1/id/x", "k8s:a=b;"u8, Cluster3), "not an identity key");
    }

    [Fact]
    public void Ip_entry_must_match_its_key_and_carry_an_identity_of_the_remote()
    {
        var value = Fixture("ciliumendpoints", IpKey);
        AssertRejected(ClusterMeshValidator.ValidateIp("cilium/state/ip/v1/default/10.244.2.75", value, Cluster3), "does not match");
        AssertRejected(ClusterMeshValidator.ValidateIp(IpKey, value, Cluster3 with { Id = 4 }), "outside cluster 4's range");
        AssertRejected(ClusterMeshValidator.ValidateIp("cilium/state/ip/v1/default/not-an-ip", value, Cluster3), "not an ip key");

        var reserved = Text(value).Replace("\"ID\":199475", "\"ID\":2", StringComparison.Ordinal);
        Assert.True(ClusterMeshValidator.ValidateIp(IpKey, Encoding.UTF8.GetBytes(reserved), Cluster3 with { Id = 4 }).Ok);
        var unknown = Text(value).Replace("\"ID\":199475", "\"ID\":0", StringComparison.Ordinal);
        AssertRejected(ClusterMeshValidator.ValidateIp(IpKey, Encoding.UTF8.GetBytes(unknown), Cluster3), "identity 0");

        // Legacy "Mask":null is a nil mask: the plain IP key applies.
        var legacy = Fixture("ciliumendpoints.legacy", IpKey);
        Assert.True(ClusterMeshValidator.ValidateIp(IpKey, legacy, Cluster3).Ok);
    }

    [Fact]
    public void Ip_entry_with_a_mask_needs_the_prefix_key()
    {
        var pair = new IPIdentityPair { IP = "10.1.0.0", Mask = IPMask.FromPrefixLength(16, 32), HostIP = "172.18.0.2", Id = 199475 };
        var bytes = ClusterMeshJson.Serialize(pair);
        Assert.True(ClusterMeshValidator.ValidateIp(ClusterMeshKeys.Ip(pair.KeyName), bytes, Cluster3).Ok);
        AssertRejected(ClusterMeshValidator.ValidateIp(ClusterMeshKeys.Ip("10.1.0.0"), bytes, Cluster3), "must be <ip>/<len>");
        AssertRejected(ClusterMeshValidator.ValidateIp(ClusterMeshKeys.Ip("10.1.0.0", 24), bytes, Cluster3), "prefix length 24");
        var unmasked = ClusterMeshJson.Serialize(pair with { Mask = null });
        AssertRejected(ClusterMeshValidator.ValidateIp(ClusterMeshKeys.Ip("10.1.0.0", 16), unmasked, Cluster3), "not set");
    }

    [Fact]
    public void Ip_entry_key_and_value_are_compared_as_addresses()
    {
        var pair = new IPIdentityPair { IP = "fd00::1", HostIP = "172.18.0.2", Id = 199475 };
        Assert.True(ClusterMeshValidator.ValidateIp("cilium/state/ip/v1/default/FD00:0::1", ClusterMeshJson.Serialize(pair), Cluster3).Ok);
    }

    [Fact]
    public void Misconfigured_remote_rejects_everything()
    {
        var value = Fixture("ciliumnodes", NodeKey);
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, value, new RemoteClusterInfo("cluster3", 0)), "cluster ID 0");
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, value, new RemoteClusterInfo("default", 3)), "reserved");
        AssertRejected(ClusterMeshValidator.ValidateNode(NodeKey, value, new RemoteClusterInfo("cluster3", 3, 300)), "maxConnectedClusters 300");
    }

    [Fact]
    public void Keys_of_the_wrong_kind_are_rejected()
    {
        AssertRejected(ClusterMeshValidator.Validate(ClusterMeshKind.Nodes, ServiceKey, Fixture("ciliumnodes", NodeKey), Cluster3), "not a node key");
        AssertRejected(ClusterMeshValidator.Validate(ClusterMeshKind.Services, NodeKey, Fixture("operator-servicesync", ServiceKey), Cluster3), "not a service key");
    }

    private static byte[] Fixture(string scenario, string key) => CiliumFixtures.ExpectedValue(scenario, key);

    private static string Text(byte[] bytes) => Encoding.UTF8.GetString(bytes);

    private static void AssertRejected<T>(EntryValidation<T> result, string reasonPart)
        where T : class
    {
        Assert.False(result.Ok, "expected a rejection");
        Assert.Null(result.Value);
        Assert.Contains(reasonPart, result.Reason, StringComparison.Ordinal);
    }
}
