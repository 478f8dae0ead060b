using System.Text;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

[Trait("Needs", "etcd")]
public sealed class WatchStoreTests : OwnEtcdTestBase
{
    private static readonly RemoteClusterInfo Cluster2 = new("cluster2", 2);

    private static EntryDecodeResult<string> Utf8(string key, ReadOnlySpan<byte> value) => EntryDecodeResult<string>.Ok(Encoding.UTF8.GetString(value));

    private static EntryDecodeResult<ClusterService> RemoteService(string key, ReadOnlySpan<byte> value)
    {
        var result = ClusterMeshValidator.ValidateService(key, value, Cluster2);
        return result.Ok ? EntryDecodeResult<ClusterService>.Ok(result.Value!) : EntryDecodeResult<ClusterService>.Invalid(result.Reason!);
    }

    private static string Service(string cluster, uint clusterId, string name)
        => "{\"cluster\":\"" + cluster + "\",\"namespace\":\"default\",\"name\":\"" + name
            + "\",\"frontends\":{\"10.96.0.10\":{\"http\":{\"Protocol\":\"TCP\",\"Port\":80}}},\"backends\":{\"10.244.1.5\":{\"http\":{\"Protocol\":\"TCP\",\"Port\":8080}}}"
            + ",\"labels\":{},\"selector\":{\"app\":\"" + name + "\"},\"includeExternal\":true,\"shared\":true,\"clusterID\":" + clusterId + "}";

    [Fact]
    public async Task Lists_existing_entries_then_reports_changes_and_says_synced_after_the_list()
    {
        var prefix = Clients.UniquePrefix("ws-basic");
        for (var i = 0; i < 2500; i++)
        {
            await Client.PutAsync($"{prefix}{i:D4}", $"v{i}");
        }

        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(Client, new WatchStoreOptions { Name = "basic", Prefix = prefix, PageSize = 1000 }, Utf8, observer);
        var run = store.RunAsync(Cts.Token);

        await Eventually.WithinAsync(store.Synced, Timeout, "synced");
        Assert.True(observer.IsSynced);
        Assert.Equal(2500, observer.State.Count);

        await Client.PutAsync($"{prefix}0000", "changed");
        await Client.DeleteAsync($"{prefix}0001");
        await Client.PutAsync($"{prefix}9999", "new");
        await Eventually.TrueAsync(() => observer.State.Count == 2500 && observer.State.GetValueOrDefault($"{prefix}9999") == "new", Timeout, "the watched changes");
        Assert.Equal("changed", observer.State[$"{prefix}0000"]);
        Assert.False(observer.State.ContainsKey($"{prefix}0001"));
        Assert.Equal(0, store.GetStatus().Relists);

        await Cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task After_compaction_while_disconnected_the_relist_deletes_exactly_the_keys_deleted_meanwhile()
    {
        var prefix = Clients.UniquePrefix("ws-compact");
        for (var i = 0; i < 20; i++)
        {
            await Client.PutAsync($"{prefix}{i:D2}", "v");
        }

        await using var proxy = new LoopbackProxy(Server.ClientEndpoints[0]);
        await using var partitioned = Clients.For([proxy.Endpoint]);
        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(partitioned, new WatchStoreOptions { Name = "compact", Prefix = prefix }, Utf8, observer);
        var run = store.RunAsync(Cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "synced");

        proxy.Block();
        string[] deleted = [$"{prefix}03", $"{prefix}07", $"{prefix}11"];
        foreach (var key in deleted)
        {
            await Client.DeleteAsync(key);
        }

        await Client.PutAsync($"{prefix}05", "updated");
        var head = (await Client.PutAsync($"{prefix}20", "added")).Header.Revision;
        await Client.CompactAsync(head);
        var before = observer.Events.Count;
        proxy.Unblock();

        await Eventually.TrueAsync(() => observer.State.Count == 18 && observer.State.GetValueOrDefault($"{prefix}05") == "updated", Timeout, "the re-list");
        var after = observer.Events.Skip(before).ToList();
        Assert.Equal(deleted.Order(StringComparer.Ordinal), after.Where(e => e.Op == "delete").Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Equal([$"{prefix}05", $"{prefix}20"], after.Where(e => e.Op == "upsert").Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Equal(1, store.GetStatus().Relists);

        await Cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Malformed_values_are_counted_and_skipped_without_stopping_the_watch()
    {
        var prefix = "cilium/state/services/v1/cluster2/";
        await Client.PutAsync(prefix + "default/good", Service("cluster2", 2, "good"));
        var observer = new RecordingObserver<ClusterService>();
        var store = new WatchStore<ClusterService>(Client, new WatchStoreOptions { Name = "cluster2/services", Prefix = prefix }, RemoteService, observer);
        var run = store.RunAsync(Cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "synced");

        var good = Service("cluster2", 2, "good");
        await Client.PutAsync(prefix + "default/truncated", good[..40]);
        await Client.PutAsync(prefix + "default/wrongtype", good.Replace("\"clusterID\":2", "\"clusterID\":\"two\"", StringComparison.Ordinal));
        await Client.PutAsync(prefix + "default/othercluster", Service("cluster3", 2, "othercluster"));
        await Client.PutAsync(prefix + "default/wrongid", Service("cluster2", 7, "wrongid"));
        await Client.PutAsync(prefix + "default/later", Service("cluster2", 2, "later"));

        await Eventually.TrueAsync(() => observer.State.ContainsKey(prefix + "default/later"), Timeout, "the valid entry after the bad ones");
        Assert.Equal([prefix + "default/good", prefix + "default/later"], observer.State.Keys.Order(StringComparer.Ordinal));
        var status = store.GetStatus();
        Assert.Equal(4, status.InvalidEntries);
        Assert.Equal(0, status.Relists);

        await Cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Synced_waits_for_the_canary()
    {
        var prefix = Clients.UniquePrefix("ws-canary");
        var canary = Clients.UniquePrefix("synced") + "canary";
        await Client.PutAsync(prefix + "a", "1");
        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(Client, new WatchStoreOptions { Name = "canary", Prefix = prefix, SyncedCanaryKey = canary }, Utf8, observer);
        var run = store.RunAsync(Cts.Token);

        await Eventually.TrueAsync(() => observer.State.Count == 1, Timeout, "the listing");
        // Give a wrongly-ungated store every chance to say synced: wait for a later event to be applied.
        await Client.PutAsync(prefix + "b", "2");
        await Eventually.TrueAsync(() => observer.State.Count == 2, Timeout, "a watched event");
        Assert.False(store.Synced.IsCompleted);
        Assert.False(observer.IsSynced);

        await Client.PutAsync(canary, "2026-11-22T12:00:00Z");
        await Eventually.WithinAsync(store.Synced, Timeout, "synced after the canary");
        Assert.True(observer.IsSynced);

        await Cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Drain_reports_every_entry_as_deleted()
    {
        var prefix = Clients.UniquePrefix("ws-drain");
        await Client.PutAsync(prefix + "a", "1");
        await Client.PutAsync(prefix + "b", "2");
        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(Client, new WatchStoreOptions { Name = "drain", Prefix = prefix }, Utf8, observer);
        var run = store.RunAsync(Cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "synced");

        await Cts.CancelAsync();
        await run;
        await store.DrainAsync(CancellationToken.None);

        Assert.Empty(observer.State);
        Assert.Equal([("delete", prefix + "a"), ("delete", prefix + "b")], observer.Events.Where(e => e.Op == "delete").OrderBy(e => e.Key, StringComparer.Ordinal));
    }
}
