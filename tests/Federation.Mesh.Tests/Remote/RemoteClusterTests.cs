using System.Diagnostics;
using System.Text.Json;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

[Trait("Needs", "etcd")]
public sealed class RemoteClusterTests : RemoteClusterTestBase
{
    [Fact]
    public async Task Entries_of_every_kind_reach_the_observer_over_mtls_but_not_before_the_remote_canaries_exist()
    {
        var b = await StartRemoteAsync("b", 2, tls: true);
        var keys = await b.PutOneOfEachAsync();
        b.WriteConfigFile(ConfigDirectory);
        await StartManagerAsync();

        // Listed (the entry counts show it) but held back: the remote has not said its data is complete.
        await Eventually.TrueAsync(() => Status("b") is { } s && s.Kinds.Values.All(k => k.Entries == 1), Timeout, $"b listed ({Describe("b")})");
        Assert.Equal(RemoteClusterState.Syncing, Status("b")!.State);
        Assert.Empty(Observer.Entries("b"));
        Assert.Equal(2u, Observer.Config("b")!.Id);

        await b.PutCanariesAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");
        Assert.All(AllKinds, kind => Assert.True(Observer.IsSynced("b", kind)));
        Assert.IsType<Node>(Observer.Decoded("b", keys[0]));
        Assert.Equal("web", Assert.IsType<ClusterService>(Observer.Decoded("b", keys[1])).Name);
        Assert.Equal(b.IdentityNumber(1), Assert.IsType<IdentityEntry>(Observer.Decoded("b", keys[2])).Id);
        Assert.IsType<IPIdentityPair>(Observer.Decoded("b", keys[3]));

        // Each synced call comes after the entries of its kind.
        var calls = Observer.Calls("b");
        foreach (var kind in AllKinds)
        {
            var synced = calls.FindIndex(c => c.What == "synced" && c.Kind == kind);
            Assert.True(calls.FindIndex(c => c.What == "upsert" && c.Kind == kind) < synced);
        }

        // Live changes follow.
        var api = await b.PutServiceAsync("api");
        await Eventually.TrueAsync(() => Observer.Entries("b").ContainsKey(api), Timeout, "a new service");
        await b.Client.DeleteAsync(keys[1]);
        await Eventually.TrueAsync(() => !Observer.Entries("b").ContainsKey(keys[1]), Timeout, "a deleted service");
        await Eventually.TrueAsync(() => Status("b")!.LastHeartbeat is not null, Timeout, "a heartbeat change seen");
        var status = Status("b")!;
        Assert.Equal(2u, status.ClusterId);
        Assert.NotNull(status.LastConnected);
        Assert.StartsWith("https://", status.Endpoints[0], StringComparison.Ordinal);
        var json = JsonSerializer.Serialize(Manager!.GetStatus(), RemoteClusterStatusJsonContext.Default.RemoteClustersStatus);
        Assert.Contains("\"state\":\"Ready\"", json, StringComparison.Ordinal);
        Assert.Contains("\"services\":{\"synced\":true,\"entries\":1}", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_file_added_connects_and_its_removal_deletes_everything_the_remote_provided()
    {
        var b = await StartRemoteAsync("b", 2);
        await b.PutOneOfEachAsync();
        await b.PutServiceAsync("api");
        await b.PutCanariesAsync();
        var manager = await StartManagerAsync();
        Assert.Empty(manager.GetStatus().Clusters);

        b.WriteConfigFile(ConfigDirectory);
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");
        var delivered = Observer.Entries("b").Keys.ToHashSet();
        Assert.Equal(5, delivered.Count);

        var before = Observer.CallCount;
        File.Delete(Path.Combine(ConfigDirectory, "b"));
        await Eventually.TrueAsync(() => manager.GetStatus().Find("b") is null, Timeout, "b gone from the status");
        Assert.Empty(Observer.Entries("b"));
        var calls = Observer.CallsSince(before);
        var deletes = calls.Where(c => c.What == "delete").Select(c => c.Key!).ToList();
        Assert.Equal(delivered.Order(StringComparer.Ordinal), deletes.Order(StringComparer.Ordinal));

        // The removal is announced once, before the first delete.
        Assert.Equal("removed", calls[0].What);
        Assert.Single(calls, c => c.What == "removed");
    }

    [Fact]
    public async Task An_unreachable_remote_fails_quickly_keeps_its_state_revokes_services_after_the_stale_ttl_and_recovers()
    {
        var b = await StartRemoteAsync("b", 2);
        var keys = await b.PutOneOfEachAsync();
        await b.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        var staleTtl = TimeSpan.FromSeconds(4);
        await StartManagerAsync(o => o.StaleTtl = staleTtl);
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");

        var killed = Stopwatch.StartNew();
        await b.Server.StopAsync(kill: true);
        await WaitForStateAsync("b", RemoteClusterState.Failing, TimeSpan.FromSeconds(3));
        var failingAfter = killed.Elapsed;
        var status = Status("b")!;
        Assert.NotNull(status.StaleSince);
        Assert.Contains("unreachable", status.LastFailureReason, StringComparison.Ordinal);
        Assert.True(status.Failures >= 1);
        Assert.Equal(4, Observer.Entries("b").Count);

        // Past the TTL the services go, everything else stays.
        await Eventually.TrueAsync(() => Observer.Entries("b", ClusterMeshKind.Services).Count == 0, Timeout, "services revoked");
        Assert.True(killed.Elapsed >= staleTtl - TimeSpan.FromMilliseconds(100), $"services revoked after {killed.Elapsed}, before the stale TTL");
        Assert.Equal(keys.Where(k => k != keys[1]).Order(StringComparer.Ordinal), Observer.Entries("b").Keys.Order(StringComparer.Ordinal));

        await b.Server.StartAgainAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries back after the restart");
        Assert.Null(Status("b")!.StaleSince);
        Assert.True(failingAfter < TimeSpan.FromSeconds(3));
    }

    [Fact]
    public async Task Deletions_made_while_disconnected_and_compacted_are_applied_exactly_after_the_relist()
    {
        var b = await StartRemoteAsync("b", 2);
        var services = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            services.Add(await b.PutServiceAsync($"svc-{i}"));
        }

        await b.PutNodeAsync("node-1");
        await b.PutCanariesAsync();
        var proxy = Track(new LoopbackProxy(b.Server.ClientEndpoints[0]));
        b.WriteConfigFile(ConfigDirectory, [proxy.Endpoint]);
        await StartManagerAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");

        proxy.Block();
        await WaitForStateAsync("b", RemoteClusterState.Failing, TimeSpan.FromSeconds(3));
        var before = Observer.CallCount;
        string[] deleted = [services[2], services[5], services[7]];
        foreach (var key in deleted)
        {
            await b.Client.DeleteAsync(key);
        }

        await b.PutServiceAsync("svc-3", backend: "10.244.1.99");
        var added = await b.PutServiceAsync("svc-new");
        var head = (await b.Client.PutAsync(ClusterMeshKeys.Heartbeat, ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow))).Header.Revision;
        await b.Client.CompactAsync(head);

        // Disconnected: nothing changes for the observer.
        Assert.Equal(11, Observer.Entries("b").Count);

        proxy.Unblock();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries after the reconnect");
        var calls = Observer.CallsSince(before);
        Assert.Equal(deleted.Order(StringComparer.Ordinal), calls.Where(c => c.What == "delete").Select(c => c.Key!).Order(StringComparer.Ordinal));
        Assert.Equal(
            new[] { services[3], added }.Order(StringComparer.Ordinal),
            calls.Where(c => c.What == "upsert").Select(c => c.Key!).Order(StringComparer.Ordinal));
        Assert.Equal("10.244.1.99", Assert.IsType<ClusterService>(Observer.Decoded("b", services[3])).Backends!.Keys.Single());

        // The sweep waits for the complete listing: every delete comes after the listing's upserts.
        var lastUpsert = calls.FindLastIndex(c => c.What == "upsert");
        Assert.All(calls.Select((c, i) => (c, i)).Where(x => x.c.What == "delete"), x => Assert.True(x.i > lastUpsert, "a delete before the listing was complete"));
    }

    [Fact]
    public async Task A_remote_whose_heartbeat_stands_still_is_reconnected_and_keeps_its_entries()
    {
        var b = await StartRemoteAsync("b", 2);
        await b.PutOneOfEachAsync();
        await b.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        await StartManagerAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");
        var before = Observer.CallCount;

        b.HeartbeatPaused = true;
        await WaitForStateAsync("b", RemoteClusterState.Failing);
        Assert.Contains("no heartbeat change seen", Status("b")!.LastFailureReason, StringComparison.Ordinal);
        Assert.NotNull(Status("b")!.StaleSince);

        // Reconnecting does not make it Ready while the heartbeat still stands still.
        await Eventually.TrueAsync(() => Status("b")!.Failures >= 2, Timeout, $"a second heartbeat failure ({Describe("b")})");
        Assert.Equal(RemoteClusterState.Failing, Status("b")!.State);

        b.HeartbeatPaused = false;
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries kept");
        Assert.DoesNotContain(Observer.CallsSince(before), c => c.What == "delete");
    }

    [Fact]
    public async Task A_changed_config_file_or_rotated_certificate_reconnects_without_deleting_anything()
    {
        var b = await StartRemoteAsync("b", 2, tls: true);
        await b.PutOneOfEachAsync();
        await b.PutCanariesAsync();
        var proxy = Track(new LoopbackProxy(b.Server.ClientEndpoints[0]));
        b.WriteConfigFile(ConfigDirectory, [proxy.Endpoint]);
        await StartManagerAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");
        var before = Observer.CallCount;
        var connected = Status("b")!.LastConnected;

        // New endpoints: reconnects there, so cutting the old path no longer matters.
        b.WriteConfigFile(ConfigDirectory);
        await Eventually.TrueAsync(() => Status("b") is { State: RemoteClusterState.Ready } s && s.Endpoints.SequenceEqual([b.Server.ClientEndpoints[0].ToString()]) && s.LastConnected > connected, Timeout, $"b reconnected directly ({Describe("b")})");
        proxy.Block();
        connected = Status("b")!.LastConnected;

        // Same file, new certificate content: reconnects too.
        b.RotateReaderCertificate(ConfigDirectory);
        await Eventually.TrueAsync(() => Status("b") is { State: RemoteClusterState.Ready } s && s.LastConnected > connected, Timeout, $"b reconnected with the new certificate ({Describe("b")})");

        var service = await b.PutServiceAsync("after-rotation");
        await Eventually.TrueAsync(() => Observer.Entries("b").ContainsKey(service), Timeout, "an entry written after the rotation");
        Assert.DoesNotContain(Observer.CallsSince(before), c => c.What == "delete");
        Assert.Equal(0, Status("b")!.Failures);
    }

    [Fact]
    public async Task A_changed_cluster_id_drains_the_remote_and_validates_it_again()
    {
        var b = await StartRemoteAsync("b", 2);
        var keys = await b.PutOneOfEachAsync();
        await b.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        await StartManagerAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");

        var before = Observer.CallCount;
        await b.PutClusterConfigAsync(7);
        await Eventually.TrueAsync(() => Status("b") is { ClusterId: 7, State: RemoteClusterState.Ready }, Timeout, $"b re-validated with ID 7 ({Describe("b")})");

        // Everything was validated against ID 2: deleted, and the old entries now fail validation.
        Assert.Empty(Observer.Entries("b"));
        Assert.Equal(keys.Order(StringComparer.Ordinal), Observer.CallsSince(before).Where(c => c.What == "delete").Select(c => c.Key!).Order(StringComparer.Ordinal));
        Assert.True(Status("b")!.InvalidEntries >= 4, Describe("b"));
        Assert.Equal(7u, Observer.Config("b")!.Id);

        await b.Client.DeleteAsync(keys[2]); // an identity of ID 2's range: the others are overwritten
        var fresh = await b.PutOneOfEachAsync();
        await WaitForObserverToMatchAsync(b, "b's entries written with ID 7");
        Assert.Equal(fresh.Order(StringComparer.Ordinal), Observer.Entries("b").Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_remote_claiming_an_id_in_use_or_our_own_id_is_refused_until_it_takes_a_free_one()
    {
        var b = await StartRemoteAsync("b", 2);
        await b.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        var manager = await StartManagerAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);

        using var metrics = new MetricsProbe();
        var c = await StartRemoteAsync("c", 2);
        await c.PutCanariesAsync();
        await c.PutServiceAsync("web");
        c.WriteConfigFile(ConfigDirectory);
        await WaitForStateAsync("c", RemoteClusterState.Refused);
        Assert.Contains("cluster ID 2 is already used by remote cluster \"b\"", Status("c")!.LastFailureReason, StringComparison.Ordinal);
        Assert.Equal(RemoteClusterState.Ready, Status("b")!.State);
        Assert.Empty(Observer.Entries("c"));
        await Eventually.TrueAsync(
            () => metrics.Counter("federation_remote_cluster_failures_total", "cluster=c,reason=refused") > 0, Timeout, "the refusal counted in federation_remote_cluster_failures_total");
        Assert.Equal(0, metrics.Gauge("federation_remote_cluster_ready", "cluster=c"));
        Assert.Equal(1, metrics.Gauge("federation_remote_cluster_ready", "cluster=b"));
        Assert.NotNull(metrics.Gauge("federation_remote_cluster_last_failure_timestamp_seconds", "cluster=c"));

        await c.PutClusterConfigAsync(LocalClusterId);
        await Eventually.TrueAsync(
            () => Status("c")!.LastFailureReason?.Contains("our own cluster's ID", StringComparison.Ordinal) == true, Timeout, $"c refused for our ID ({Describe("c")})");
        Assert.Equal(RemoteClusterState.Refused, Status("c")!.State);

        await c.PutClusterConfigAsync(3);
        await c.PutServiceAsync("web");
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(c, "c's entries delivered");
        Assert.Equal(2, manager.GetStatus().Clusters.Count(s => s.State == RemoteClusterState.Ready));
    }

    [Fact]
    public async Task A_remote_without_cluster_config_fails_and_one_of_another_mesh_size_is_refused_until_corrected()
    {
        var b = await StartRemoteAsync("b", 2, writeClusterConfig: false);
        await b.PutOneOfEachAsync();
        await b.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        await StartManagerAsync();

        await WaitForStateAsync("b", RemoteClusterState.Failing);
        Assert.StartsWith("cluster config missing", Status("b")!.LastFailureReason, StringComparison.Ordinal);
        Assert.Empty(Observer.Entries("b"));

        await b.PutClusterConfigAsync(2, maxConnectedClusters: 511);
        await WaitForStateAsync("b", RemoteClusterState.Refused);
        Assert.Contains("maxConnectedClusters is 511, ours is 255", Status("b")!.LastFailureReason, StringComparison.Ordinal);
        Assert.Empty(Observer.Entries("b"));

        await b.PutClusterConfigAsync(2);
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await WaitForObserverToMatchAsync(b, "b's entries delivered");
        Assert.True(Status("b")!.Failures >= 2);
    }

    [Fact]
    public async Task A_cached_remote_is_read_from_the_cache_prefixes_of_the_local_etcd()
    {
        // The local etcd as kvstoremesh leaves it: b's config (cached), b's entries and canaries under cilium/cache.
        var local = await StartRemoteAsync(LocalCluster, LocalClusterId);
        var b = new RemoteInfo("b", 2);
        await local.PutClusterConfigAsync(2, cached: true, clusterName: "b");
        var identity = ClusterIdentity.GetIdentityRange(2).First + 5;
        var cacheKeys = new[]
        {
            ClusterMeshKeys.CachedNode("b", "node-1"),
            ClusterMeshKeys.CachedService("b", "default", "web"),
            ClusterMeshKeys.CachedIdentity("b", identity),
            ClusterMeshKeys.CachedIp("b", "10.244.2.7"),
        };
        await local.Client.PutAsync(cacheKeys[0], ClusterMeshJson.Serialize(RemoteEtcd.Node("b", 2, "node-1")));
        await local.Client.PutAsync(cacheKeys[1], ClusterMeshJson.Serialize(RemoteEtcd.Service("b", 2, "web")));
        await local.Client.PutAsync(cacheKeys[2], ClusterMeshJson.Serialize(RemoteEtcd.Labels("b", "web")));
        await local.Client.PutAsync(cacheKeys[3], ClusterMeshJson.Serialize(new IPIdentityPair { IP = "10.244.2.7", Id = identity }));

        // Not read: the state layout (b's own format) in the same etcd.
        await local.Client.PutAsync(ClusterMeshKeys.Service("b", "default", "state-layout"), ClusterMeshJson.Serialize(RemoteEtcd.Service("b", 2, "state-layout")));
        await local.PutCanariesAsync(cached: true, clusterName: "b");

        local.WriteConfigFile(ConfigDirectory, fileName: b.Name);
        await StartManagerAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
        await Eventually.TrueAsync(() => Observer.Entries("b").Count == 4, Timeout, "b's cached entries");
        Assert.Equal(cacheKeys.Order(StringComparer.Ordinal), Observer.Entries("b").Keys.Order(StringComparer.Ordinal));
        Assert.True(Observer.Config("b")!.Capabilities.Cached);
    }

    [Fact]
    public async Task Entries_naming_another_cluster_outside_the_identity_range_or_malformed_are_counted_and_never_delivered()
    {
        // A cluster name of its own: the metrics are process-wide, and other tests run a cluster "b" meanwhile.
        using var metrics = new MetricsProbe();
        var b = await StartRemoteAsync("invalid-b", 2);
        var good = await b.PutServiceAsync("good");
        await b.Client.PutAsync(ClusterMeshKeys.Service("invalid-b", "default", "impostor"), ClusterMeshJson.Serialize(RemoteEtcd.Service("c", 2, "impostor")));
        await b.Client.PutAsync(ClusterMeshKeys.Service("c", "default", "other"), ClusterMeshJson.Serialize(RemoteEtcd.Service("c", 3, "other")));
        await b.Client.PutAsync(ClusterMeshKeys.Service("invalid-b", "default", "wrong-id"), ClusterMeshJson.Serialize(RemoteEtcd.Service("invalid-b", 9, "wrong-id")));
        await b.Client.PutAsync(ClusterMeshKeys.Identity(ClusterIdentity.GetIdentityRange(3).First + 1), ClusterMeshJson.Serialize(RemoteEtcd.Labels("invalid-b", "x")));
        await b.Client.PutAsync(ClusterMeshKeys.Node("invalid-b", "broken"), "{\"Name\":\"broken\",");
        await b.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        await StartManagerAsync();

        await WaitForStateAsync("invalid-b", RemoteClusterState.Ready);
        Assert.Equal([good], Observer.Entries("invalid-b").Keys);
        var status = Status("invalid-b")!;
        Assert.Equal(4, status.InvalidEntries); // the other cluster's prefix is not even read
        Assert.Equal(1, status.Kinds["services"].Entries);
        Assert.Equal(0, status.Kinds["nodes"].Entries);
        Assert.Equal(0, status.Kinds["identities"].Entries);
        Assert.Equal(2, metrics.Counter("federation_remote_cluster_invalid_entries_total", "cluster=invalid-b,kind=services"));
        Assert.Equal(1, metrics.Gauge("federation_remote_cluster_entries", "cluster=invalid-b,kind=services"));
    }

    [Fact]
    public async Task Initial_syncs_beyond_the_bound_wait_their_turn_and_a_remote_that_never_syncs_gives_its_slot_up()
    {
        // One slot: b never writes its canaries (it stays Syncing), c and d are healthy.
        var b = await StartRemoteAsync("b", 2);
        var c = await StartRemoteAsync("c", 3);
        var d = await StartRemoteAsync("d", 4);
        await c.PutCanariesAsync();
        await d.PutCanariesAsync();
        b.WriteConfigFile(ConfigDirectory);
        await StartManagerAsync(o =>
        {
            o.MaxConcurrentInitialSyncs = 1;
            o.InitialSyncSlotTimeout = TimeSpan.FromSeconds(2);
        });

        // b takes the only slot and keeps it while Syncing; c and d get it only because b gives it up.
        await WaitForStateAsync("b", RemoteClusterState.Syncing);
        c.WriteConfigFile(ConfigDirectory);
        d.WriteConfigFile(ConfigDirectory);
        await WaitForStateAsync("c", RemoteClusterState.Ready);
        await WaitForStateAsync("d", RemoteClusterState.Ready);
        Assert.Equal(RemoteClusterState.Syncing, Status("b")!.State);

        // b's slot came back; b becomes Ready once its data is complete.
        await b.PutCanariesAsync();
        await WaitForStateAsync("b", RemoteClusterState.Ready);
    }

    [Fact]
    public void A_negative_initial_sync_bound_is_refused_naming_the_option()
        => Assert.Contains(Options(o => o.MaxConcurrentInitialSyncs = -1).Validate(), e => e.StartsWith("MaxConcurrentInitialSyncs:", StringComparison.Ordinal));

    private sealed record RemoteInfo(string Name, uint Id);
}
