using System.Text;
using Federation.Etcd.Store;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

[Trait("Needs", "etcd")]
public sealed class SyncStoreTests : OwnEtcdTestBase
{
    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private async Task<string?> ValueOf(string key) => (await Client.GetAsync(key))?.Value.ToStringUtf8();

    [Fact]
    public async Task Writes_the_desired_state_and_does_not_rewrite_unchanged_values()
    {
        var prefix = Clients.UniquePrefix("ss-basic");
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "basic", OwnedPrefix = prefix });
        await store.StartAsync(Cts.Token);

        store.Upsert(prefix + "a", Bytes("1"));
        store.Upsert(prefix + "b", Bytes("2"));
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");
        var revisionOfA = (await Client.GetAsync(prefix + "a"))!.ModRevision;
        var writes = store.GetStatus().Writes;

        store.Upsert(prefix + "a", Bytes("1"));
        store.Upsert(prefix + "b", Bytes("3"));
        store.Delete(prefix + "missing");
        await Eventually.TrueAsync(async () => await ValueOf(prefix + "b") == "3", Timeout, "the changed value");

        Assert.Equal(revisionOfA, (await Client.GetAsync(prefix + "a"))!.ModRevision);
        Assert.Equal(writes + 1, store.GetStatus().Writes);

        store.Delete(prefix + "a");
        await Eventually.TrueAsync(async () => await ValueOf(prefix + "a") is null, Timeout, "the deletion");
        Assert.Equal(0, store.GetStatus().Errors);
    }

    [Fact]
    public async Task The_canary_is_written_only_after_every_initial_write()
    {
        var prefix = Clients.UniquePrefix("ss-canary");
        var canary = "cilium/synced/" + Guid.NewGuid().ToString("N") + "/" + prefix;
        var start = (await Client.PutAsync("marker", "m")).Header.Revision + 1;
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "canary", OwnedPrefix = prefix, SyncedCanaryKey = canary, Workers = 8 });
        await store.StartAsync(Cts.Token);

        for (var i = 0; i < 500; i++)
        {
            store.Upsert($"{prefix}{i:D3}", Bytes($"value-{i}"));
        }

        await Eventually.TrueAsync(async () => await Client.CountPrefixAsync(prefix) >= 100, Timeout, "some writes");
        Assert.Null(await Client.GetAsync(canary));

        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "the canary");

        var canaryKv = (await Client.GetAsync(canary))!;
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", canaryKv.Value.ToStringUtf8());
        var keys = await Client.GetPrefixAsync(prefix);
        Assert.Equal(500, keys.Kvs.Count);
        Assert.All(keys.Kvs, kv => Assert.True(kv.ModRevision < canaryKv.ModRevision, $"{kv.Key.ToStringUtf8()} written after the canary"));
        Assert.True(canaryKv.Lease != 0, "the canary is leased");
        Assert.True(canaryKv.ModRevision > start);
    }

    [Fact]
    public async Task Keys_queued_together_are_written_in_few_transactions()
    {
        var prefix = Clients.UniquePrefix("ss-batch");
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "batch", OwnedPrefix = prefix, Workers = 4, MaxBatchSize = 50 });
        for (var i = 0; i < 1000; i++)
        {
            store.Upsert($"{prefix}{i:D4}", Bytes($"value-{i}"));
        }

        store.MarkInitialSyncDone();
        var before = (await Client.PutAsync("marker", "m")).Header.Revision;
        await store.StartAsync(Cts.Token);
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");

        var listing = await Client.GetPrefixAsync(prefix);
        Assert.Equal(1000, listing.Kvs.Count);
        Assert.All(listing.Kvs, kv => Assert.NotEqual(0, kv.Lease));

        // Every transaction is one etcd revision: 1000 keys in batches of 50 are 20 revisions, not 1000.
        var revisions = listing.Kvs.Select(kv => kv.ModRevision).Distinct().Count();
        Assert.InRange(revisions, 20, 40);
        Assert.True(listing.Header.Revision - before < 60, $"{listing.Header.Revision - before} revisions for 1000 keys");
        Assert.Equal(1000, store.GetStatus().Writes);
    }

    [Fact]
    public async Task A_key_etcd_refuses_does_not_hold_up_the_keys_batched_with_it()
    {
        var prefix = Clients.UniquePrefix("ss-poison");
        await using var store = new SyncStore(Client, new SyncStoreOptions
        {
            Name = "poison",
            OwnedPrefix = prefix,
            Workers = 1,
            RetryMinDelay = TimeSpan.FromMilliseconds(20),
            RetryMaxDelay = TimeSpan.FromMilliseconds(200),
        });

        // etcd refuses requests above 1.5 MiB: this value can never be written.
        store.Upsert(prefix + "huge", new byte[2 * 1024 * 1024]);
        for (var i = 0; i < 20; i++)
        {
            store.Upsert($"{prefix}ok-{i:D2}", Bytes("v"));
        }

        await store.StartAsync(Cts.Token);
        await Eventually.TrueAsync(async () => await Client.CountPrefixAsync(prefix + "ok-") == 20, Timeout, "the writable keys");

        Assert.Null(await Client.GetAsync(prefix + "huge"));
        Assert.True(store.GetStatus().Errors > 0);

        // The first failure names the batch it was in; the key's own retry, which may come after the others are written,
        // names the key.
        await Eventually.TrueAsync(() => store.GetStatus().LastError?.Contains("huge", StringComparison.Ordinal) == true, Timeout, "the refused key named in the last error");
    }

    [Fact]
    public async Task Keys_share_leases_of_at_most_the_configured_size()
    {
        var prefix = Clients.UniquePrefix("ss-leases");
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "leases", OwnedPrefix = prefix, MaxKeysPerLease = 10, Workers = 4 });
        await store.StartAsync(Cts.Token);
        for (var i = 0; i < 25; i++)
        {
            store.Upsert($"{prefix}{i:D2}", Bytes("v"));
        }

        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");

        var byLease = (await Client.GetPrefixAsync(prefix)).Kvs.GroupBy(kv => kv.Lease).ToList();
        Assert.Equal(3, byLease.Count);
        Assert.All(byLease, g => Assert.True(g.Key != 0 && g.Count() <= 10, $"lease {g.Key:x} holds {g.Count()} keys"));
        Assert.Equal(3, store.GetStatus().Leases);
        var ttl = await Client.LeaseTimeToLiveAsync(byLease[0].Key);
        Assert.Equal(900, ttl.GrantedTTL);
    }

    [Fact]
    public async Task Keys_of_an_expired_lease_are_written_again()
    {
        var prefix = Clients.UniquePrefix("ss-expiry");
        await using var proxy = new LoopbackProxy(Server.ClientEndpoints[0]);
        await using var partitioned = Clients.For([proxy.Endpoint]);
        await using var store = new SyncStore(partitioned, new SyncStoreOptions { Name = "expiry", OwnedPrefix = prefix, LeaseTtl = TimeSpan.FromSeconds(2) });
        await store.StartAsync(Cts.Token);
        store.Upsert(prefix + "a", Bytes("1"));
        store.Upsert(prefix + "b", Bytes("2"));
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");
        var oldLease = (await Client.GetAsync(prefix + "a"))!.Lease;

        // Cut the writer off until etcd expires its lease and drops the keys.
        proxy.Block();
        await Eventually.TrueAsync(async () => await Client.CountPrefixAsync(prefix) == 0, Timeout, "the lease to expire");
        proxy.Unblock();

        await Eventually.TrueAsync(async () => await Client.CountPrefixAsync(prefix) == 2, Timeout, "the keys to be written again");
        var kv = (await Client.GetAsync(prefix + "a"))!;
        Assert.Equal("1", kv.Value.ToStringUtf8());
        Assert.NotEqual(oldLease, kv.Lease);
    }

    [Fact]
    public async Task Keys_of_a_revoked_lease_are_written_again()
    {
        var prefix = Clients.UniquePrefix("ss-revoke");
        // The revoke is noticed at the next keep-alive, a third of the TTL later.
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "revoke", OwnedPrefix = prefix, LeaseTtl = TimeSpan.FromSeconds(6) });
        await store.StartAsync(Cts.Token);
        store.Upsert(prefix + "a", Bytes("1"));
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");
        var lease = (await Client.GetAsync(prefix + "a"))!.Lease;

        await using var other = Clients.For(Server);
        await other.LeaseRevokeAsync(lease);

        await Eventually.TrueAsync(async () => (await Client.GetAsync(prefix + "a")) is { } kv && kv.Lease != lease, Timeout, "the key back on a new lease");
    }

    [Fact]
    public async Task With_enforcement_keys_of_a_revoked_lease_are_back_long_before_the_next_keep_alive()
    {
        var prefix = Clients.UniquePrefix("ss-revoke-enforced");
        // 15-minute lease: the keep-alive alone would notice the revoke only 5 minutes later.
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "revoke-enforced", OwnedPrefix = prefix, Enforce = true });
        await store.StartAsync(Cts.Token);
        store.Upsert(prefix + "a", Bytes("1"));
        store.Upsert(prefix + "b", Bytes("2"));
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");
        var lease = (await Client.GetAsync(prefix + "a"))!.Lease;

        await using var other = Clients.For(Server);
        await other.LeaseRevokeAsync(lease);

        await Eventually.TrueAsync(
            async () => (await Client.GetPrefixAsync(prefix)).Kvs is { Count: 2 } kvs && kvs.All(kv => kv.Lease != lease),
            Timeout,
            "both keys back on a new lease");
    }

    [Fact]
    public async Task Left_over_keys_from_a_previous_run_are_deleted_once_the_initial_sync_is_done()
    {
        var prefix = Clients.UniquePrefix("ss-stale");
        await Client.PutAsync(prefix + "kept", "old");
        await Client.PutAsync(prefix + "stale1", "old");
        await Client.PutAsync(prefix + "stale2", "old");
        await Client.PutAsync("outside/" + prefix, "untouched");

        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "stale", OwnedPrefix = prefix });
        await store.StartAsync(Cts.Token);
        store.Upsert(prefix + "kept", Bytes("new"));
        store.Upsert(prefix + "added", Bytes("new"));

        await Eventually.TrueAsync(async () => await ValueOf(prefix + "added") == "new", Timeout, "the new key");
        Assert.Equal("old", await ValueOf(prefix + "stale1"));

        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");

        Assert.Equal([prefix + "added", prefix + "kept"], (await Client.GetPrefixAsync(prefix)).Kvs.Select(kv => kv.Key.ToStringUtf8()));
        Assert.Equal("new", await ValueOf(prefix + "kept"));
        Assert.Equal("untouched", await ValueOf("outside/" + prefix));
    }

    [Fact]
    public async Task Enforced_keys_changed_or_deleted_by_someone_else_are_written_back()
    {
        var key = "cilium/cluster-config/" + Guid.NewGuid().ToString("N")[..8];
        const string Config = """{"id":3,"capabilities":{"syncedCanaries":true,"maxConnectedClusters":255}}""";
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "config", OwnedPrefix = key, Enforce = true });
        await store.StartAsync(Cts.Token);
        store.Upsert(key, Bytes(Config));
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");

        await Client.PutAsync(key, Config.Replace("\"id\":3", "\"id\":4", StringComparison.Ordinal));
        await Eventually.TrueAsync(async () => await ValueOf(key) == Config, Timeout, "the edit to be reverted");

        await Client.DeleteAsync(key);
        await Eventually.TrueAsync(async () => await ValueOf(key) == Config, Timeout, "the deleted key to be written back");
    }

    [Fact]
    public async Task Stopping_with_revoke_removes_the_written_keys()
    {
        var prefix = Clients.UniquePrefix("ss-stop");
        var store = new SyncStore(Client, new SyncStoreOptions { Name = "stop", OwnedPrefix = prefix });
        await store.StartAsync(Cts.Token);
        store.Upsert(prefix + "a", Bytes("1"));
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");

        await store.StopAsync(revokeLeases: true, CancellationToken.None);
        await store.DisposeAsync();

        Assert.Equal(0, await Client.CountPrefixAsync(prefix));
    }

    [Fact]
    public async Task Heartbeat_writer_keeps_rewriting_the_time()
    {
        var key = Clients.UniquePrefix("heartbeat") + ".heartbeat";
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "heartbeat" });
        await store.StartAsync(Cts.Token);
        var writer = new HeartbeatWriter(store, key, TimeSpan.FromSeconds(1));
        var run = writer.RunAsync(Cts.Token);

        await Eventually.TrueAsync(async () => await ValueOf(key) is not null, Timeout, "the first heartbeat");
        var first = await ValueOf(key);
        await Eventually.TrueAsync(async () => await ValueOf(key) != first, Timeout, "a later heartbeat");
        Assert.True(DateTimeOffset.Parse((await ValueOf(key))!, System.Globalization.CultureInfo.InvariantCulture) > DateTimeOffset.Parse(first!, System.Globalization.CultureInfo.InvariantCulture));
        await Cts.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Failed_writes_are_retried_until_etcd_is_back()
    {
        var prefix = Clients.UniquePrefix("ss-retry");
        await using var proxy = new LoopbackProxy(Server.ClientEndpoints[0]);
        await using var partitioned = Clients.For([proxy.Endpoint], o => o.RequestTimeout = TimeSpan.FromSeconds(1));
        await using var store = new SyncStore(partitioned, new SyncStoreOptions { Name = "retry", OwnedPrefix = prefix, RetryMinDelay = TimeSpan.FromMilliseconds(50), RetryMaxDelay = TimeSpan.FromMilliseconds(500) });
        await store.StartAsync(Cts.Token);

        proxy.Block();
        store.Upsert(prefix + "a", Bytes("1"));
        try
        {
            await Eventually.TrueAsync(() => store.GetStatus().Errors >= 2, Timeout, "failed attempts");
        }
        catch (TimeoutException ex)
        {
            throw new TimeoutException($"{ex.Message}; status {store.GetStatus()}; key written: {await ValueOf(prefix + "a") is not null}", ex);
        }
        Assert.NotNull(store.GetStatus().LastError);
        proxy.Unblock();

        await Eventually.TrueAsync(async () => await ValueOf(prefix + "a") == "1", Timeout, "the retried write");
    }

    [Fact]
    public async Task The_lag_histogram_counts_each_change_once_from_its_hand_in_to_its_write()
    {
        var prefix = Clients.UniquePrefix("ss-lag");
        var name = "lag-" + Guid.NewGuid().ToString("N");
        var lags = new System.Collections.Concurrent.ConcurrentQueue<double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == EtcdMetrics.MeterName && instrument.Name == "federation_etcd_sync_lag_seconds")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "store" && (string?)tag.Value == name)
                {
                    lags.Enqueue(value);
                }
            }
        });
        listener.Start();
        await using var proxy = new LoopbackProxy(Server.ClientEndpoints[0]);
        await using var partitioned = Clients.For([proxy.Endpoint], o => o.RequestTimeout = TimeSpan.FromSeconds(1));
        await using var store = new SyncStore(partitioned, new SyncStoreOptions { Name = name, OwnedPrefix = prefix, RetryMinDelay = TimeSpan.FromMilliseconds(50), RetryMaxDelay = TimeSpan.FromMilliseconds(200) });
        await store.StartAsync(Cts.Token);

        // Two changes of one key while etcd cannot be reached: one write, one sample, as old as the first change.
        proxy.Block();
        var handedIn = System.Diagnostics.Stopwatch.StartNew();
        store.Upsert(prefix + "a", Bytes("1"));
        store.Upsert(prefix + "a", Bytes("2"));
        await Eventually.TrueAsync(() => store.GetStatus().Errors >= 1, Timeout, "a failed attempt");
        await Task.Delay(TimeSpan.FromMilliseconds(700), Cts.Token);
        var blocked = handedIn.Elapsed.TotalSeconds;
        proxy.Unblock();
        await Eventually.TrueAsync(async () => await ValueOf(prefix + "a") == "2", Timeout, "the write after the outage");
        await Eventually.TrueAsync(() => !lags.IsEmpty, Timeout, "a lag sample");
        Assert.Single(lags);
        Assert.InRange(lags.Single(), blocked, handedIn.Elapsed.TotalSeconds);

        // A change that etcd takes at once: one more sample, shorter than the outage's.
        store.Upsert(prefix + "b", Bytes("1"));
        await Eventually.TrueAsync(() => lags.Count == 2, Timeout, "the second sample");
        Assert.True(lags.Last() < blocked, $"lag {lags.Last():0.000} s without an outage");

        // A change that is undone before it is written leaves nothing pending, and no sample.
        proxy.Block();
        store.Upsert(prefix + "b", Bytes("2"));
        store.Upsert(prefix + "b", Bytes("1"));
        proxy.Unblock();
        store.Upsert(prefix + "c", Bytes("1"));
        await Eventually.TrueAsync(async () => await ValueOf(prefix + "c") == "1", Timeout, "the write of c");
        await Eventually.TrueAsync(() => lags.Count >= 3, Timeout, "the sample of c");
        Assert.Equal(3, lags.Count);
    }

    [Fact]
    public async Task A_lone_change_is_written_as_a_plain_put_or_delete_not_a_transaction()
    {
        var prefix = Clients.UniquePrefix("ss-lone");
        await using var store = new SyncStore(Client, new SyncStoreOptions { Name = "lone", OwnedPrefix = prefix });
        await store.StartAsync(Cts.Token);
        store.MarkInitialSyncDone();
        await Eventually.WithinAsync(store.Synced, Timeout, "initial sync");

        var before = await KvCallsAsync();
        store.Upsert(prefix + "a", Bytes("1"));
        await Eventually.TrueAsync(async () => await ValueOf(prefix + "a") == "1", Timeout, "the put");
        store.Delete(prefix + "a");
        await Eventually.TrueAsync(async () => await ValueOf(prefix + "a") is null, Timeout, "the delete");
        var after = await KvCallsAsync();

        Assert.Equal(1, after.GetValueOrDefault("Put") - before.GetValueOrDefault("Put"));
        Assert.Equal(1, after.GetValueOrDefault("DeleteRange") - before.GetValueOrDefault("DeleteRange"));
        Assert.Equal(0, after.GetValueOrDefault("Txn") - before.GetValueOrDefault("Txn"));
    }

    // etcd's own count of KV calls it handled, by method (grpc_server_handled_total on its metrics port).
    private async Task<Dictionary<string, long>> KvCallsAsync()
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync(new Uri(Server.MetricsEndpoint, "metrics"), Cts.Token);
        var calls = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("grpc_server_handled_total{", StringComparison.Ordinal) && line.Contains("grpc_service=\"etcdserverpb.KV\"", StringComparison.Ordinal))
            {
                var method = System.Text.RegularExpressions.Regex.Match(line, "grpc_method=\"([^\"]+)\"").Groups[1].Value;
                calls[method] = calls.GetValueOrDefault(method) + (long)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return calls;
    }
}
