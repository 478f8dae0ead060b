using System.Text.Json;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

/// <summary>
/// A node agent's view: one real local etcd holding what kvstoremesh writes for remotes (cached cluster
/// configs, the cache layout, cache canaries) next to our own cluster's config and heartbeat.
/// </summary>
[Trait("Needs", "etcd")]
public sealed class CachedRemoteClusterSourceTests : RemoteClusterTestBase
{
    [Fact]
    public async Task Cached_remotes_reach_the_observer_only_after_their_cache_canaries_and_our_own_config_is_ignored()
    {
        var local = await StartLocalAsync();
        var b = await PutCachedRemoteAsync(local, "b", 2, canaries: false);
        var c = await PutCachedRemoteAsync(local, "c", 3, canaries: false);
        var source = await StartSourceAsync(local);

        // Listed, validated and held back until kvstoremesh says each copy is complete.
        foreach (var remote in (string[])["b", "c"])
        {
            await Eventually.TrueAsync(() => Status(remote) is { } s && s.Kinds.Count == 4 && s.Kinds.Values.All(k => k.Entries == 1), Timeout, $"{remote} listed ({Describe(remote)})");
            Assert.Equal(RemoteClusterState.Syncing, Status(remote)!.State);
            Assert.True(Observer.Config(remote)!.Capabilities.Cached);
        }

        Assert.Empty(Observer.Entries("b"));
        Assert.Empty(Observer.Entries("c"));
        Assert.Equal(["b", "c"], source.GetStatus().Clusters.Select(s => s.Name));
        Assert.Empty(source.GetStatus().Rejected);
        Assert.Empty(Observer.Calls(LocalCluster));

        await PutCacheCanariesAsync(local, "b");
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchCacheAsync(local, "b");
        Assert.Empty(Observer.Entries("c"));
        Assert.IsType<Node>(Observer.Decoded("b", b[0]));
        Assert.Equal("web", Assert.IsType<ClusterService>(Observer.Decoded("b", b[1])).Name);
        Assert.Equal(IdentityNumber(2, 1), Assert.IsType<IdentityEntry>(Observer.Decoded("b", b[2])).Id);
        Assert.IsType<IPIdentityPair>(Observer.Decoded("b", b[3]));

        await PutCacheCanariesAsync(local, "c");
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForObserverToMatchCacheAsync(local, "c");
        Assert.Equal(4, Observer.Entries("c").Count);
        Assert.All(AllKinds, kind => Assert.True(Observer.IsSynced("c", kind)));

        // Live changes of the cache follow; the liveness signal is the local heartbeat.
        var api = ClusterMeshKeys.CachedService("b", "default", "api");
        await local.Client.PutAsync(api, ClusterMeshJson.Serialize(RemoteEtcd.Service("b", 2, "api")));
        await Eventually.TrueAsync(() => Observer.Entries("b").ContainsKey(api), Timeout, "a new cached service");
        await local.Client.DeleteAsync(b[1]);
        await Eventually.TrueAsync(() => !Observer.Entries("b").ContainsKey(b[1]), Timeout, "a deleted cached service");
        await Eventually.TrueAsync(() => Status("b")!.LastHeartbeat is not null, Timeout, "the local heartbeat seen");
        var status = Status("b")!;
        Assert.Equal(2u, status.ClusterId);
        Assert.Equal(local.Server.ClientEndpoints.Select(e => e.ToString()), status.Endpoints);
        Assert.Null(source.GetStatus().Find(LocalCluster));
        var json = JsonSerializer.Serialize(source.GetStatus(), RemoteClusterStatusJsonContext.Default.RemoteClustersStatus);
        Assert.Contains("\"name\":\"c\",\"state\":\"Ready\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_deleted_cached_config_announces_the_removal_then_deletes_every_entry_of_that_remote_only()
    {
        var local = await StartLocalAsync();
        await PutCachedRemoteAsync(local, "b", 2);
        await PutCachedRemoteAsync(local, "c", 3);
        var source = await StartSourceAsync(local);
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForObserverToMatchCacheAsync(local, "b");
        await WaitForObserverToMatchCacheAsync(local, "c");
        var delivered = Observer.Entries("b").Keys.ToHashSet();
        Assert.Equal(4, delivered.Count);

        // kvstoremesh deletes the config at once and the cached entries only after a grace period.
        var before = Observer.CallCount;
        await local.Client.DeleteAsync(ClusterMeshKeys.ClusterConfig("b"));
        await Eventually.TrueAsync(() => source.GetStatus().Find("b") is null, Timeout, "b gone from the status");
        Assert.Empty(Observer.Entries("b"));
        var calls = Observer.CallsSince(before);
        Assert.Equal("removed", calls[0].What);
        Assert.Single(calls, c => c.What == "removed");
        Assert.All(calls, c => Assert.Equal("b", c.Cluster));
        Assert.Equal(delivered.Order(StringComparer.Ordinal), calls.Where(c => c.What == "delete").Select(c => c.Key!).Order(StringComparer.Ordinal));
        Assert.Equal(4, Observer.Entries("c").Count);
        Assert.Equal(RemoteClusterState.Ready, Status("c")!.State);
    }

    [Fact]
    public async Task A_cached_remote_claiming_an_id_already_held_by_another_is_refused()
    {
        var local = await StartLocalAsync();
        await PutCachedRemoteAsync(local, "b", 2);
        await StartSourceAsync(local);
        await WaitForStateAsync("b", RemoteClusterState.Ready);

        await PutCachedRemoteAsync(local, "c", 2);
        await WaitForStateAsync("c", RemoteClusterState.Refused);
        Assert.Contains("cluster ID 2 is already used by remote cluster \"b\"", Status("c")!.LastFailureReason, StringComparison.Ordinal);
        Assert.Empty(Observer.Entries("c"));
        Assert.Null(Observer.Config("c"));
        Assert.Equal(RemoteClusterState.Ready, Status("b")!.State);
        Assert.Equal(4, Observer.Entries("b").Count);
    }

    [Fact]
    public async Task Cached_entries_naming_another_cluster_or_outside_the_remote_identity_range_are_counted_invalid_and_not_delivered()
    {
        var local = await StartLocalAsync();
        var good = await PutCachedRemoteAsync(local, "b", 2, canaries: false);
        string[] bad =
        [
            // Under b's prefix, but the value says it is c's.
            await Put(local, ClusterMeshKeys.CachedNode("b", "node-c"), ClusterMeshJson.Serialize(RemoteEtcd.Node("c", 3, "node-c"))),
            await Put(local, ClusterMeshKeys.CachedService("b", "default", "other"), ClusterMeshJson.Serialize(RemoteEtcd.Service("c", 3, "other"))),
            // Identities of c's range, under b's prefix.
            await Put(local, ClusterMeshKeys.CachedIdentity("b", IdentityNumber(3, 1)), ClusterMeshJson.Serialize(RemoteEtcd.Labels("b", "web"))),
            await Put(local, ClusterMeshKeys.CachedIp("b", "10.244.1.99"), IpPair("10.244.1.99", IdentityNumber(3, 1))),
        ];
        await PutCacheCanariesAsync(local, "b");
        await StartSourceAsync(local);

        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await Eventually.TrueAsync(() => Status("b")!.InvalidEntries == bad.Length, Timeout, $"{bad.Length} invalid entries counted (now {Status("b")!.InvalidEntries})");
        Assert.Equal(good.Order(StringComparer.Ordinal), Observer.Entries("b").Keys.Order(StringComparer.Ordinal));
        Assert.All(Status("b")!.Kinds.Values, k => Assert.Equal(1, k.Entries));
        Assert.DoesNotContain(Observer.Calls("b"), c => bad.Contains(c.Key));
    }

    [Fact]
    public async Task A_cached_remote_appearing_later_is_picked_up_while_invalid_names_are_rejected_and_uncached_configs_ignored()
    {
        var local = await StartLocalAsync();
        await PutCachedRemoteAsync(local, "b", 2);
        var source = await StartSourceAsync(local);
        await WaitForStateAsync("b", RemoteClusterState.Ready);

        var badKey = ClusterMeshKeys.ClusterConfig("Bad_Name");
        await local.Client.PutAsync(badKey, ClusterMeshJson.Serialize(CachedConfig(4)));
        await local.Client.PutAsync(ClusterMeshKeys.ClusterConfig("d"), ClusterMeshJson.Serialize(new CiliumClusterConfig
        {
            Id = 5,
            Capabilities = new ClusterCapabilities { SyncedCanaries = true, MaxConnectedClusters = 255 },
        }));
        await PutCachedRemoteAsync(local, "c", 3);

        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForObserverToMatchCacheAsync(local, "c");
        await Eventually.TrueAsync(() => source.GetStatus().Rejected.Length == 1, Timeout, "Bad_Name rejected");
        var rejected = Assert.Single(source.GetStatus().Rejected);
        Assert.Equal(badKey, rejected.FileName);
        Assert.Contains("not name a valid cluster", rejected.Reason, StringComparison.Ordinal);
        Assert.Equal(["b", "c"], source.GetStatus().Clusters.Select(s => s.Name));
        Assert.Empty(Observer.Calls("d"));

        await local.Client.DeleteAsync(badKey);
        await Eventually.TrueAsync(() => source.GetStatus().Rejected.IsEmpty, Timeout, "the rejected key gone from the status");
    }

    [Fact]
    public async Task StopAsync_keeps_what_the_observer_was_told_and_leaves_the_shared_local_client_open()
    {
        var local = await StartLocalAsync();
        await PutCachedRemoteAsync(local, "b", 2);
        await PutCachedRemoteAsync(local, "c", 3);
        var source = await StartSourceAsync(local);
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForObserverToMatchCacheAsync(local, "b");
        await WaitForObserverToMatchCacheAsync(local, "c");

        var before = Observer.CallCount;
        await source.StopAsync(CancellationToken.None);
        Assert.Empty(Observer.CallsSince(before));
        Assert.Equal(4, Observer.Entries("b").Count);
        Assert.Equal(4, Observer.Entries("c").Count);

        // Deleting now is not seen: the source has stopped. The local client still works (it is not ours to dispose).
        await local.Client.DeleteAsync(ClusterMeshKeys.ClusterConfig("b"));
        Assert.Null(await local.Client.GetAsync(ClusterMeshKeys.ClusterConfig("b")));
        await source.DisposeAsync();
        Assert.NotNull(await local.Client.GetAsync(ClusterMeshKeys.ClusterConfig("c")));
        Assert.Empty(Observer.CallsSince(before));
    }

    [Fact]
    public async Task A_standing_local_heartbeat_fails_every_cached_remote_keeping_its_entries_until_it_moves_again()
    {
        var local = await StartLocalAsync();
        await PutCachedRemoteAsync(local, "b", 2);
        await PutCachedRemoteAsync(local, "c", 3);
        await StartSourceAsync(local);
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForObserverToMatchCacheAsync(local, "b");

        // The local apiserver (and with it kvstoremesh) is gone: nothing vouches for the copies any more.
        local.HeartbeatPaused = true;
        await WaitForStateAsync("b", RemoteClusterState.Failing);
        await WaitForStateAsync("c", RemoteClusterState.Failing);
        Assert.Contains("no heartbeat change", Status("b")!.LastFailureReason, StringComparison.Ordinal);
        Assert.NotNull(Status("b")!.StaleSince);
        Assert.Equal(4, Observer.Entries("b").Count);
        Assert.Equal(4, Observer.Entries("c").Count);

        local.HeartbeatPaused = false;
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        Assert.Null(Status("b")!.StaleSince);
        Assert.Equal(4, Observer.Entries("b").Count);
    }

    /// <summary>Our own cluster's etcd: its apiserver's (uncached) cluster config and heartbeat.</summary>
    private Task<RemoteEtcd> StartLocalAsync() => StartRemoteAsync(LocalCluster, LocalClusterId);

    private async Task<CachedRemoteClusterSource> StartSourceAsync(RemoteEtcd local)
    {
        var source = new CachedRemoteClusterSource(local.Client, Options(o => o.ConfigDirectory = ""), Observer);
        Source = source;
        await source.StartAsync(CancellationToken.None);
        return source;
    }

    private static CiliumClusterConfig CachedConfig(uint id) => new()
    {
        Id = id,
        Capabilities = new ClusterCapabilities { SyncedCanaries = true, Cached = true, MaxConnectedClusters = 255 },
    };

    private static uint IdentityNumber(uint clusterId, uint offset) => ClusterIdentity.GetIdentityRange(clusterId).First + offset;

    private static byte[] IpPair(string ip, uint identity) => ClusterMeshJson.Serialize(
        new IPIdentityPair { IP = ip, Id = identity, HostIP = "192.168.10.1", K8sNamespace = "default", K8sPodName = "web-" + ip });

    private static async Task<string> Put(RemoteEtcd local, string key, byte[] value)
    {
        await local.Client.PutAsync(key, value);
        return key;
    }

    /// <summary>What kvstoremesh writes for a remote: its cached cluster config and one entry of each kind in the cache layout; returns the entry keys.</summary>
    private static async Task<string[]> PutCachedRemoteAsync(RemoteEtcd local, string name, uint id, bool canaries = true)
    {
        var identity = IdentityNumber(id, 1);
        string[] keys =
        [
            await Put(local, ClusterMeshKeys.CachedNode(name, "node-1"), ClusterMeshJson.Serialize(RemoteEtcd.Node(name, id, "node-1"))),
            await Put(local, ClusterMeshKeys.CachedService(name, "default", "web"), ClusterMeshJson.Serialize(RemoteEtcd.Service(name, id, "web"))),
            await Put(local, ClusterMeshKeys.CachedIdentity(name, identity), ClusterMeshJson.Serialize(RemoteEtcd.Labels(name, "web"))),
            await Put(local, ClusterMeshKeys.CachedIp(name, "10.244.1.5"), IpPair("10.244.1.5", identity)),
        ];
        await local.Client.PutAsync(ClusterMeshKeys.ClusterConfig(name), ClusterMeshJson.Serialize(CachedConfig(id)));
        if (canaries)
        {
            await PutCacheCanariesAsync(local, name);
        }

        return keys;
    }

    private static async Task PutCacheCanariesAsync(RemoteEtcd local, string name)
    {
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            await local.Client.PutAsync(ClusterMeshKeys.CacheSyncedCanary(kind, name), ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        }
    }

    /// <summary>Waits until the observer's view of <paramref name="remote"/> is byte for byte the local cache of it.</summary>
    private Task WaitForObserverToMatchCacheAsync(RemoteEtcd local, string remote) => Eventually.TrueAsync(
        async () =>
        {
            var expected = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            foreach (var kind in ClusterMeshKindExtensions.All)
            {
                foreach (var kv in (await local.Client.ListPrefixAsync(ClusterMeshKeys.CachePrefixFor(kind, remote))).Kvs)
                {
                    expected[kv.Key.ToStringUtf8()] = kv.Value.ToByteArray();
                }
            }

            var actual = Observer.Entries(remote);
            return expected.Count == actual.Count && expected.All(e => actual.TryGetValue(e.Key, out var bytes) && bytes.AsSpan().SequenceEqual(e.Value));
        },
        Timeout,
        $"the observer's {remote} matches the local cache ({Describe(remote)})");
}
