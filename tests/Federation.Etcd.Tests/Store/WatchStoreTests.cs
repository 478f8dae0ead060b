using System.Text;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

[Trait("Needs", "etcd")]
public sealed class WatchStoreTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly RemoteClusterInfo Cluster2 = new("cluster2", 2);
    private readonly CancellationTokenSource _cts = new(TimeSpan.FromSeconds(120));
    private EtcdServer _server = null!;
    private EtcdClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await EtcdServer.StartAsync();
        _client = Clients.For(_server);
    }

    public async Task DisposeAsync()
    {
        await _cts.CancelAsync();
        await _client.DisposeAsync();
        await _server.DisposeAsync();
        _cts.Dispose();
    }

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
            await _client.PutAsync($"{prefix}{i:D4}", $"v{i}");
        }

        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(_client, new WatchStoreOptions { Name = "basic", Prefix = prefix, PageSize = 1000 }, Utf8, observer);
        var run = store.RunAsync(_cts.Token);

        await Eventually.WithinAsync(store.Synced, Timeout, "synced");
        Assert.True(observer.IsSynced);
        Assert.Equal(2500, observer.State.Count);

        await _client.PutAsync($"{prefix}0000", "changed");
        await _client.DeleteAsync($"{prefix}0001");
        await _client.PutAsync($"{prefix}9999", "new");
        await Eventually.TrueAsync(() => observer.State.Count == 2500 && observer.State.GetValueOrDefault($"{prefix}9999") == "new", Timeout, "the watched changes");
        Assert.Equal("changed", observer.State[$"{prefix}0000"]);
        Assert.False(observer.State.ContainsKey($"{prefix}0001"));
        Assert.Equal(0, store.GetStatus().Relists);

        await _cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task After_compaction_while_disconnected_the_relist_deletes_exactly_the_keys_deleted_meanwhile()
    {
        var prefix = Clients.UniquePrefix("ws-compact");
        for (var i = 0; i < 20; i++)
        {
            await _client.PutAsync($"{prefix}{i:D2}", "v");
        }

        await using var proxy = new LoopbackProxy(_server.ClientEndpoints[0]);
        await using var partitioned = Clients.For([proxy.Endpoint]);
        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(partitioned, new WatchStoreOptions { Name = "compact", Prefix = prefix }, Utf8, observer);
        var run = store.RunAsync(_cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "synced");

        proxy.Block();
        string[] deleted = [$"{prefix}03", $"{prefix}07", $"{prefix}11"];
        foreach (var key in deleted)
        {
            await _client.DeleteAsync(key);
        }

        await _client.PutAsync($"{prefix}05", "updated");
        var head = (await _client.PutAsync($"{prefix}20", "added")).Header.Revision;
        await _client.CompactAsync(head);
        var before = observer.Events.Count;
        proxy.Unblock();

        await Eventually.TrueAsync(() => observer.State.Count == 18 && observer.State.GetValueOrDefault($"{prefix}05") == "updated", Timeout, "the re-list");
        var after = observer.Events.Skip(before).ToList();
        Assert.Equal(deleted.Order(StringComparer.Ordinal), after.Where(e => e.Op == "delete").Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Equal([$"{prefix}05", $"{prefix}20"], after.Where(e => e.Op == "upsert").Select(e => e.Key).Order(StringComparer.Ordinal));
        Assert.Equal(1, store.GetStatus().Relists);

        await _cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Malformed_values_are_counted_and_skipped_without_stopping_the_watch()
    {
        var prefix = "cilium/state/services/v1/cluster2/";
        await _client.PutAsync(prefix + "default/good", Service("cluster2", 2, "good"));
        var observer = new RecordingObserver<ClusterService>();
        var store = new WatchStore<ClusterService>(_client, new WatchStoreOptions { Name = "cluster2/services", Prefix = prefix }, RemoteService, observer);
        var run = store.RunAsync(_cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "synced");

        var good = Service("cluster2", 2, "good");
        await _client.PutAsync(prefix + "default/truncated", good[..40]);
        await _client.PutAsync(prefix + "default/wrongtype", good.Replace("\"clusterID\":2", "\"clusterID\":\"two\"", StringComparison.Ordinal));
        await _client.PutAsync(prefix + "default/othercluster", Service("cluster3", 2, "othercluster"));
        await _client.PutAsync(prefix + "default/wrongid", Service("cluster2", 7, "wrongid"));
        await _client.PutAsync(prefix + "default/later", Service("cluster2", 2, "later"));

        await Eventually.TrueAsync(() => observer.State.ContainsKey(prefix + "default/later"), Timeout, "the valid entry after the bad ones");
        Assert.Equal([prefix + "default/good", prefix + "default/later"], observer.State.Keys.Order(StringComparer.Ordinal));
        var status = store.GetStatus();
        Assert.Equal(4, status.InvalidEntries);
        Assert.Equal(0, status.Relists);

        await _cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Synced_waits_for_the_canary()
    {
        var prefix = Clients.UniquePrefix("ws-canary");
        var canary = Clients.UniquePrefix("synced") + "canary";
        await _client.PutAsync(prefix + "a", "1");
        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(_client, new WatchStoreOptions { Name = "canary", Prefix = prefix, SyncedCanaryKey = canary }, Utf8, observer);
        var run = store.RunAsync(_cts.Token);

        await Eventually.TrueAsync(() => observer.State.Count == 1, Timeout, "the listing");
        // Give a wrongly-ungated store every chance to say synced: wait for a later event to be applied.
        await _client.PutAsync(prefix + "b", "2");
        await Eventually.TrueAsync(() => observer.State.Count == 2, Timeout, "a watched event");
        Assert.False(store.Synced.IsCompleted);
        Assert.False(observer.IsSynced);

        await _client.PutAsync(canary, "2026-11-22T12:00:00Z");
        await Eventually.WithinAsync(store.Synced, Timeout, "synced after the canary");
        Assert.True(observer.IsSynced);

        await _cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Drain_reports_every_entry_as_deleted()
    {
        var prefix = Clients.UniquePrefix("ws-drain");
        await _client.PutAsync(prefix + "a", "1");
        await _client.PutAsync(prefix + "b", "2");
        var observer = new RecordingObserver<string>();
        var store = new WatchStore<string>(_client, new WatchStoreOptions { Name = "drain", Prefix = prefix }, Utf8, observer);
        var run = store.RunAsync(_cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "synced");

        await _cts.CancelAsync();
        await run;
        await store.DrainAsync(CancellationToken.None);

        Assert.Empty(observer.State);
        Assert.Equal([("delete", prefix + "a"), ("delete", prefix + "b")], observer.Events.Where(e => e.Op == "delete").OrderBy(e => e.Key, StringComparer.Ordinal));
    }
}
