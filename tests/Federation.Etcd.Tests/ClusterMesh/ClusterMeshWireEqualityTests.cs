using System.Collections.Immutable;
using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

/// <summary>Reconcilers diff wire values: equality must follow content, not references or map order.</summary>
public sealed class ClusterMeshWireEqualityTests
{
    [Fact]
    public void Services_with_the_same_maps_built_differently_are_equal()
    {
        var a = Service(
            ImmutableDictionary.CreateRange(StringComparer.Ordinal, [Pair("10.0.0.1", "tcp", 80), Pair("10.0.0.2", "tcp", 80)]));
        var b = Service(
            ImmutableDictionary.CreateRange(StringComparer.OrdinalIgnoreCase, [Pair("10.0.0.2", "tcp", 80), Pair("10.0.0.1", "tcp", 80)]));

        Assert.NotSame(a.Backends, b.Backends);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(ClusterMeshJson.Serialize(a), ClusterMeshJson.Serialize(b));
    }

    [Fact]
    public void A_changed_nested_port_is_a_different_service()
    {
        var a = Service(ImmutableDictionary.CreateRange(StringComparer.Ordinal, [Pair("10.0.0.1", "tcp", 80)]));
        var b = Service(ImmutableDictionary.CreateRange(StringComparer.Ordinal, [Pair("10.0.0.1", "tcp", 81)]));
        var c = Service(ImmutableDictionary.CreateRange(StringComparer.Ordinal, [Pair("10.0.0.1", "http", 80)]));
        Assert.NotEqual(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, a with { Backends = null });
    }

    [Fact]
    public void Omitted_empty_maps_equal_missing_ones_but_written_maps_do_not()
    {
        var a = Service(ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty);

        // hostnames/zones are omitempty: empty and nil both vanish from the bytes.
        Assert.Equal(a, a with { Hostnames = ImmutableDictionary<string, string>.Empty });
        Assert.Equal(a.GetHashCode(), (a with { Hostnames = ImmutableDictionary<string, string>.Empty }).GetHashCode());

        // labels is not: {} and null are different bytes.
        Assert.NotEqual(a, a with { Labels = null });
    }

    [Fact]
    public void Nodes_compare_lists_in_order_and_maps_by_content()
    {
        var node = new Node
        {
            Name = "n1",
            IPAddresses = [new NodeAddress { Type = "InternalIP", IP = "10.0.0.1" }, new NodeAddress { Type = "InternalIP", IP = "10.0.0.2" }],
            IPv4AllocCidr = NodeCidr.Create("10.244.0.0", 24),
            Labels = ImmutableDictionary<string, string>.Empty.Add("a", "1").Add("b", "2"),
        };
        var same = node with
        {
            IPAddresses = [.. node.IPAddresses],
            IPv4AllocCidr = NodeCidr.Create("10.244.0.0", 24),
            Labels = ImmutableDictionary<string, string>.Empty.Add("b", "2").Add("a", "1"),
        };
        Assert.Equal(node, same);
        Assert.Equal(node.GetHashCode(), same.GetHashCode());
        Assert.NotEqual(node, node with { IPAddresses = node.IPAddresses.Reverse() });
        Assert.NotEqual(node, node with { IPv4AllocCidr = NodeCidr.Create("10.244.0.0", 16) });
        Assert.NotEqual(node, node with { NodeIdentity = 0 });
    }

    [Fact]
    public void Identity_labels_are_equal_whatever_the_order_they_were_given_in()
    {
        var a = IdentityLabels.Create([new("k8s", "b", "2"), new("k8s", "a", "1")]);
        var b = IdentityLabels.Create([new("k8s", "a", "1"), new("k8s", "b", "2")]);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal("k8s:a=1;k8s:b=2;", a.Format());
        Assert.True(IdentityLabels.TryParse("k8s:b=2;k8s:a=1;", out var parsed, out _));
        Assert.Equal(a, parsed);
    }

    [Fact]
    public void Identity_labels_keep_values_with_separators_and_empty_values()
    {
        Assert.True(IdentityLabels.TryParse("k8s:a=b=c;reserved:host=;", out var labels, out var error), error);
        Assert.Equal("b=c", labels.Labels.Single(l => l.Key == "a").Value);
        Assert.Equal(string.Empty, labels.Labels.Single(l => l.Key == "host").Value);
        Assert.Equal("k8s:a=b=c;reserved:host=;", labels.Format());
        Assert.Null(labels.Cluster);
    }

    [Fact]
    public void Ip_pairs_treat_empty_and_missing_named_ports_alike()
    {
        var pair = new IPIdentityPair { IP = "10.0.0.1", Id = 300 };
        Assert.Equal(pair, pair with { NamedPorts = [] });
        Assert.NotEqual(pair, pair with { NamedPorts = [new NamedPort { Name = "http", Port = 80, Protocol = "TCP" }] });
        Assert.Equal(pair with { Mask = IPMask.FromPrefixLength(8, 32) }, pair with { Mask = IPMask.FromBytes([255, 0, 0, 0]) });
    }

    private static ClusterService Service(ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>> backends) => new()
    {
        Cluster = "c1",
        Namespace = "ns",
        Name = "svc",
        Frontends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty,
        Backends = backends,
        Labels = ImmutableDictionary<string, string>.Empty,
        Selector = ImmutableDictionary<string, string>.Empty,
        ClusterId = 1,
    };

    private static KeyValuePair<string, ImmutableDictionary<string, L4Addr>> Pair(string ip, string port, ushort number) =>
        new(ip, ImmutableDictionary<string, L4Addr>.Empty.Add(port, new L4Addr { Protocol = "TCP", Port = number }));
}
