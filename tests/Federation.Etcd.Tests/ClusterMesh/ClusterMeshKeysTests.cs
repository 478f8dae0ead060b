using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

public sealed class ClusterMeshKeysTests
{
    private const string Reflection = "kvstoremesh-reflection";

    [Fact]
    public void Builders_produce_Cilium_key_layout()
    {
        Assert.Equal("cilium/.heartbeat", ClusterMeshKeys.Heartbeat);
        Assert.Equal("cilium/cluster-config/cluster3", ClusterMeshKeys.ClusterConfig("cluster3"));
        Assert.Equal("cilium/synced/cluster3/cilium/state/nodes/v1", ClusterMeshKeys.SyncedCanary("cluster3", ClusterMeshKeys.NodesPrefix));
        Assert.Equal("cilium/synced/cluster3/cilium/state/ip/v1", ClusterMeshKeys.StateSyncedCanary(ClusterMeshKind.Ips, "cluster3"));
        Assert.Equal("cilium/state/nodes/v1/cluster3/test-node-1", ClusterMeshKeys.Node("cluster3", "test-node-1"));
        Assert.Equal("cilium/state/services/v1/cluster3/test/echo", ClusterMeshKeys.Service("cluster3", "test", "echo"));
        Assert.Equal("cilium/state/identities/v1/id/196915", ClusterMeshKeys.Identity(196915));
        Assert.Equal("cilium/state/ip/v1/default/fd00:10:244:1::d643", ClusterMeshKeys.Ip("fd00:10:244:1::d643"));
        Assert.Equal("cilium/state/ip/v1/default/10.1.0.0/16", ClusterMeshKeys.Ip("10.1.0.0", 16));
        Assert.Equal("cilium/cache/identities/v1/foo/id/7", ClusterMeshKeys.CachedIdentity("foo", 7));
        Assert.Equal("cilium/cache/ip/v1/foo/10.0.0.1", ClusterMeshKeys.CachedIp("foo", "10.0.0.1"));
        Assert.Equal("cilium/cache/nodes/v1/foo/n", ClusterMeshKeys.CachedNode("foo", "n"));
        Assert.Equal("cilium/cache/services/v1/foo/ns/s", ClusterMeshKeys.CachedService("foo", "ns", "s"));
    }

    [Fact]
    public void Kinds_have_state_and_cache_prefixes()
    {
        Assert.Equal(
            ["cilium/state/nodes/v1", "cilium/state/services/v1", "cilium/state/identities/v1", "cilium/state/ip/v1"],
            ClusterMeshKindExtensions.All.Select(k => k.StatePrefix()));
        Assert.Equal(
            ["cilium/cache/nodes/v1", "cilium/cache/services/v1", "cilium/cache/identities/v1", "cilium/cache/ip/v1"],
            ClusterMeshKindExtensions.All.Select(k => k.CachePrefix()));
        Assert.True(ClusterMeshKindExtensions.TryGetKind("cilium/cache/ip/v1/foo/1.2.3.4", out var kind));
        Assert.Equal(ClusterMeshKind.Ips, kind);
        Assert.False(ClusterMeshKindExtensions.TryGetKind("cilium/state/nodes/v10/x", out _));
    }

    [Fact]
    public void Every_fixture_key_parses_and_rebuilds_to_itself()
    {
        var checkedKeys = 0;
        foreach (var key in CiliumFixtures.Values.Select(v => v.Key).Distinct())
        {
            switch (CiliumFixtures.KindOf(key))
            {
                case FixtureKind.Node:
                    Assert.True(ClusterMeshKeys.TryParseNodeKey(key, out var cluster, out var node), key);
                    Assert.Equal(key, ClusterMeshKeys.Node(cluster, node));
                    break;
                case FixtureKind.Service:
                    Assert.True(ClusterMeshKeys.TryParseServiceKey(key, out cluster, out var ns, out var name), key);
                    Assert.Equal(key, ClusterMeshKeys.Service(cluster, ns, name));
                    break;
                case FixtureKind.Identity:
                    Assert.True(ClusterMeshKeys.TryParseIdentityKey(key, out uint id), key);
                    Assert.Equal(key, ClusterMeshKeys.Identity(id));
                    break;
                case FixtureKind.Ip:
                    Assert.True(ClusterMeshKeys.TryParseIpKey(key, out var ip, out var length), key);
                    Assert.Null(length);
                    Assert.Equal(key, ClusterMeshKeys.Ip(ip));
                    break;
                case FixtureKind.ClusterConfig:
                    Assert.True(ClusterMeshKeys.TryParseClusterConfigKey(key, out cluster), key);
                    Assert.Equal(key, ClusterMeshKeys.ClusterConfig(cluster));
                    break;
                default:
                    continue;
            }

            checkedKeys++;
        }

        Assert.True(checkedKeys >= 30, $"only {checkedKeys} keys checked");
    }

    [Fact]
    public void Parsers_read_the_cache_layout_too()
    {
        Assert.True(ClusterMeshKeys.TryParseNodeKey("cilium/cache/nodes/v1/foo/bar", out var cluster, out var node));
        Assert.Equal(("foo", "bar"), (cluster, node));
        Assert.True(ClusterMeshKeys.TryParseServiceKey("cilium/cache/services/v1/foo/ns/svc", out cluster, out var ns, out var name));
        Assert.Equal(("foo", "ns", "svc"), (cluster, ns, name));
        Assert.True(ClusterMeshKeys.TryParseIdentityKey("cilium/cache/identities/v1/foo/id/196915", out string? identityCluster, out var id));
        Assert.Equal(("foo", 196915u), (identityCluster, id));
        Assert.True(ClusterMeshKeys.TryParseIdentityKey("cilium/state/identities/v1/id/196915", out identityCluster, out id));
        Assert.Null(identityCluster);
        Assert.True(ClusterMeshKeys.TryParseIpKey("cilium/cache/ip/v1/foo/fd00::/64", out string? ipCluster, out var ip, out var length));
        Assert.Equal(("foo", "fd00::", 64), (ipCluster, ip, length));
        Assert.True(ClusterMeshKeys.TryParseIpKey("cilium/state/ip/v1/default/10.1.0.0/16", out ipCluster, out ip, out length));
        Assert.Equal((null, "10.1.0.0", 16), (ipCluster, ip, length));
    }

    [Theory]
    [InlineData("cilium/state/nodes/v1/cluster3")]
    [InlineData("cilium/state/nodes/v1/cluster3/")]
    [InlineData("cilium/state/nodes/v1//node")]
    [InlineData("cilium/state/nodes/v1/cluster3/node/extra")]
    [InlineData("cilium/state/nodes/v10/cluster3/node")]
    [InlineData("cilium/state/services/v1/cluster3/node")]
    public void Malformed_node_keys_do_not_parse(string key) =>
        Assert.False(ClusterMeshKeys.TryParseNodeKey(key, out _, out _));

    [Theory]
    [InlineData("cilium/state/services/v1/cluster3/test")]
    [InlineData("cilium/state/services/v1/cluster3/test/echo/x")]
    [InlineData("cilium/state/services/v1/cluster3//echo")]
    public void Malformed_service_keys_do_not_parse(string key) =>
        Assert.False(ClusterMeshKeys.TryParseServiceKey(key, out _, out _, out _));

    [Theory]
    [InlineData("cilium/state/identities/v1/id/")]
    [InlineData("cilium/state/identities/v1/id/abc")]
    [InlineData("cilium/state/identities/v1/id/-1")]
    [InlineData("cilium/state/identities/v1/id/+1")]
    [InlineData("cilium/state/identities/v1/id/0196915")]
    [InlineData("cilium/state/identities/v1/id/4294967296")]
    [InlineData("cilium/state/identities/v1/value/k8s:a=b;")]
    [InlineData("cilium/cache/identities/v1/foo/value/1")]
    [InlineData("cilium/cache/identities/v1/id/1")]
    public void Malformed_identity_keys_do_not_parse(string key) =>
        Assert.False(ClusterMeshKeys.TryParseIdentityKey(key, out _));

    [Theory]
    [InlineData("cilium/state/ip/v1/default/")]
    [InlineData("cilium/state/ip/v1/other/10.0.0.1")]
    [InlineData("cilium/state/ip/v1/10.0.0.1")]
    [InlineData("cilium/state/ip/v1/default/10.0.0.0/")]
    [InlineData("cilium/state/ip/v1/default/10.0.0.0/129")]
    [InlineData("cilium/state/ip/v1/default/10.0.0.0/x")]
    [InlineData("cilium/state/ip/v1/default//24")]
    [InlineData("cilium/cache/ip/v1/foo")]
    public void Malformed_ip_keys_do_not_parse(string key) =>
        Assert.False(ClusterMeshKeys.TryParseIpKey(key, out _, out _));

    [Theory]
    [InlineData("state")]
    [InlineData("cache")]
    public void Remote_keys_map_to_the_cache_keys_kvstoremesh_writes(string layout)
    {
        var remote = CiliumFixtures.ReadRecords(CiliumFixtures.PathOf(Reflection, $"remote-kvstore.{layout}.txt")).ToList();
        var expected = CiliumFixtures.ReadRecords(CiliumFixtures.PathOf(Reflection, "expected-local-kvstore.txt"))
            .Where(r => !r.Key.Contains("/serviceexports/", StringComparison.Ordinal))
            .Select(r => (r.Key, Value: System.Text.Encoding.UTF8.GetString(r.Value!)))
            .ToList();

        var mapped = new List<(string Key, string Value)>();
        foreach (var (_, key, value) in remote)
        {
            if (ClusterMeshKeys.TryMapToCacheKey("foo", key, out _, out var cacheKey))
            {
                mapped.Add((cacheKey, System.Text.Encoding.UTF8.GetString(value!)));
            }
        }

        Assert.Equal(4, expected.Count);
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), mapped.OrderBy(e => e.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Cache_mapping_skips_identity_values_and_other_clusters()
    {
        Assert.False(ClusterMeshKeys.TryMapToCacheKey(ClusterMeshKind.Identities, "foo", "cilium/state/identities/v1/value/bar", out _));
        Assert.False(ClusterMeshKeys.TryMapToCacheKey(ClusterMeshKind.Identities, "foo", "cilium/cache/identities/v1/foo/value/bar", out _));
        Assert.False(ClusterMeshKeys.TryMapToCacheKey(ClusterMeshKind.Nodes, "foo", "cilium/state/nodes/v1/other/bar", out _));
        Assert.False(ClusterMeshKeys.TryMapToCacheKey(ClusterMeshKind.Nodes, "foo", "cilium/state/nodes/v1/foobar/x", out _));
        Assert.False(ClusterMeshKeys.TryMapToCacheKey(ClusterMeshKind.Nodes, "foo", "cilium/cache/nodes/v1/other/bar", out _));
        Assert.False(ClusterMeshKeys.TryMapToCacheKey("foo", "cilium/synced/foo/cilium/state/nodes/v1", out _, out _));
        Assert.True(ClusterMeshKeys.TryMapToCacheKey(ClusterMeshKind.Ips, "foo", "cilium/state/ip/v1/default/fd00::/64", out var ipKey));
        Assert.Equal("cilium/cache/ip/v1/foo/fd00::/64", ipKey);
    }

    [Fact]
    public void Watch_prefixes_and_synced_canaries_match_the_reflection_fixture()
    {
        var stateRemote = CiliumFixtures.ReadRecords(CiliumFixtures.PathOf(Reflection, "remote-kvstore.state.txt")).Select(r => r.Key).ToHashSet();
        var cacheRemote = CiliumFixtures.ReadRecords(CiliumFixtures.PathOf(Reflection, "remote-kvstore.cache.txt")).Select(r => r.Key).ToHashSet();
        var localSynced = CiliumFixtures.ReadRecords(CiliumFixtures.PathOf(Reflection, "expected-local-synced-keys.txt")).Select(r => r.Key).ToHashSet();

        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            // The canary a reader waits for on the remote, in either layout, and the one kvstoremesh writes locally.
            Assert.Contains(ClusterMeshKeys.StateSyncedCanary(kind, "foo"), stateRemote);
            Assert.Contains(ClusterMeshKeys.CacheSyncedCanary(kind, "foo"), cacheRemote);
            Assert.Contains(ClusterMeshKeys.CacheSyncedCanary(kind, "foo"), localSynced);

            // Every remote entry of the kind sits under the prefix kvstoremesh watches.
            var statePrefix = ClusterMeshKeys.RemoteWatchPrefix(kind, "foo", remoteCached: false);
            var cachePrefix = ClusterMeshKeys.RemoteWatchPrefix(kind, "foo", remoteCached: true);
            Assert.Single(stateRemote, k => k.StartsWith(statePrefix, StringComparison.Ordinal));
            Assert.Single(cacheRemote, k => k.StartsWith(cachePrefix, StringComparison.Ordinal));
            Assert.Equal(ClusterMeshKeys.CachePrefixFor(kind, "foo"), cachePrefix);
        }

        Assert.Equal("cilium/cache/identities/v1/foo/id/", ClusterMeshKeys.CachePrefixFor(ClusterMeshKind.Identities, "foo"));
        Assert.Equal("cilium/state/ip/v1/default/", ClusterMeshKeys.RemoteWatchPrefix(ClusterMeshKind.Ips, "foo", remoteCached: false));
        Assert.Equal("cilium/state/nodes/v1/foo/", ClusterMeshKeys.RemoteWatchPrefix(ClusterMeshKind.Nodes, "foo", remoteCached: false));
    }
}
