using System.Diagnostics;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Etcd;
using Federation.Etcd.Protocol;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Federation.ClusterMesh.ApiServer.Tests.HighAvailability;

[Trait("Needs", "etcd")]
public sealed class LeaderElectionTests(ITestOutputHelper output) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly string ElectionKey = LeaderElectionOptions.Key("cluster1");
    private readonly ClusterEnvironment _env = new();
    private readonly List<ApiServerHost> _replicas = [];
    private readonly List<LoopbackProxy> _proxies = [];

    public Task InitializeAsync() => _env.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var proxy in _proxies)
        {
            proxy.Unblock();
        }

        foreach (var replica in _replicas)
        {
            await replica.DisposeAsync();
        }

        foreach (var proxy in _proxies)
        {
            await proxy.DisposeAsync();
        }

        await _env.DisposeAsync();
    }

    [Fact]
    public async Task Two_replicas_elect_exactly_one_leader_and_only_the_leader_writes()
    {
        var a = await StartReplicaAsync("replica-a", TimeSpan.FromSeconds(5));
        await WaitLeadingAndReadyAsync(a);
        var leaderLeases = await LiveStateLeasesAsync();
        Assert.NotEmpty(leaderLeases);
        await using var recorder = await EtcdRecorder.StartAsync(_env.Mesh);

        var b = await StartReplicaAsync("replica-b", TimeSpan.FromSeconds(5));
        await WaitStandingByAsync(b, "replica-a");
        var heartbeat = (await _env.Mesh.GetAsync("cilium/.heartbeat"))!.ModRevision;
        await Eventually.TrueAsync(async () => (await _env.Mesh.GetAsync("cilium/.heartbeat"))!.ModRevision > heartbeat, Timeout, "the heartbeat rewritten while both replicas run");
        await recorder.CatchUpAsync(Timeout);

        Assert.Equal("replica-a", (await _env.Mesh.GetAsync(ElectionKey))!.Value.ToStringUtf8());
        Assert.True((bool)(await ElectionStatusAsync(a))["leader"]!);
        Assert.False((bool)(await ElectionStatusAsync(b))["leader"]!);
        Assert.Equal("replica-a", (string?)(await ElectionStatusAsync(b))["holder"]);
        var writes = recorder.Events.Where(e => e.Type == Event.Types.EventType.Put && IsLiveState(e.Kv.Key.ToStringUtf8())).ToList();
        Assert.Contains(writes, e => e.Kv.Key.ToStringUtf8() == "cilium/.heartbeat");
        Assert.All(writes, e => Assert.Contains(e.Kv.Lease, leaderLeases));
        Assert.All(await LiveStateAsync(), kv => Assert.Contains(kv.Lease, leaderLeases));
    }

    [Fact]
    public async Task A_leader_cut_off_from_etcd_is_replaced_within_the_lease_ttl_without_deleting_live_state()
    {
        var ttl = TimeSpan.FromSeconds(5);
        var proxy = new LoopbackProxy(_env.MeshEtcd.ClientEndpoints[0]);
        _proxies.Add(proxy);
        var a = await StartReplicaAsync("replica-a", ttl, proxy.Endpoint);
        await WaitLeadingAndReadyAsync(a);
        var b = await StartReplicaAsync("replica-b", ttl);
        await WaitStandingByAsync(b, "replica-a");
        var oldLeases = await LiveStateLeasesAsync();
        var liveKeys = (await LiveStateAsync()).Select(kv => kv.Key.ToStringUtf8()).ToList();
        await using var recorder = await EtcdRecorder.StartAsync(_env.Mesh);

        var crash = Stopwatch.StartNew();
        proxy.Block();
        await Eventually.TrueAsync(async () => (bool)(await ElectionStatusAsync(b))["leader"]!, ttl + Timeout, "the standby to lead");
        var failover = crash.Elapsed;
        output.WriteLine($"failover after the leader was cut off: {failover.TotalSeconds:0.00}s (election lease TTL {ttl.TotalSeconds}s)");

        Assert.False((bool)(await ElectionStatusAsync(a))["leader"]!);
        Assert.InRange(failover, TimeSpan.Zero, ttl + TimeSpan.FromSeconds(3));
        Assert.Equal("replica-b", (await _env.Mesh.GetAsync(ElectionKey))!.Value.ToStringUtf8());
        await WaitReadyAsync(b);
        await Eventually.TrueAsync(
            async () => (await _env.Mesh.GetAsync("cilium/.heartbeat")) is { } kv && !oldLeases.Contains(kv.Lease),
            Timeout,
            "the new leader to write the heartbeat");

        // The old leader comes back: it stands by instead of fighting for the key.
        proxy.Unblock();
        await WaitStandingByAsync(a, "replica-b");
        await recorder.CatchUpAsync(Timeout);
        Assert.Empty(recorder.Events.Where(e => e.Type == Event.Types.EventType.Delete && IsLiveState(e.Kv.Key.ToStringUtf8())).Select(e => e.Kv.Key.ToStringUtf8()));
        var after = (await LiveStateAsync()).Select(kv => kv.Key.ToStringUtf8()).ToList();
        Assert.All(liveKeys, key => Assert.Contains(key, after));
    }

    [Fact]
    public async Task A_leader_shut_down_gracefully_resigns_and_the_standby_takes_over_well_under_the_ttl()
    {
        var ttl = LeaderElectionOptions.DefaultLeaseTtl;
        var a = await StartReplicaAsync("replica-a", ttl);
        await WaitLeadingAndReadyAsync(a);
        var b = await StartReplicaAsync("replica-b", ttl);
        await WaitStandingByAsync(b, "replica-a");
        var liveKeys = (await LiveStateAsync()).Select(kv => kv.Key.ToStringUtf8()).ToList();
        await using var recorder = await EtcdRecorder.StartAsync(_env.Mesh);

        var shutdown = Stopwatch.StartNew();
        _replicas.Remove(a);
        await a.DisposeAsync();
        await Eventually.TrueAsync(async () => (bool)(await ElectionStatusAsync(b))["leader"]!, Timeout, "the standby to lead");
        var takeover = shutdown.Elapsed;
        output.WriteLine($"takeover after a graceful shutdown of the leader: {takeover.TotalSeconds:0.00}s (election lease TTL {ttl.TotalSeconds}s)");

        Assert.InRange(takeover, TimeSpan.Zero, ttl / 3);
        await WaitReadyAsync(b);
        await recorder.CatchUpAsync(Timeout);
        Assert.Empty(recorder.Events.Where(e => e.Type == Event.Types.EventType.Delete && IsLiveState(e.Kv.Key.ToStringUtf8())).Select(e => e.Kv.Key.ToStringUtf8()));
        var after = (await LiveStateAsync()).Select(kv => kv.Key.ToStringUtf8()).ToList();
        Assert.All(liveKeys, key => Assert.Contains(key, after));
    }

    /// <summary>What readers consume: everything under cilium/ except the election key itself.</summary>
    private static bool IsLiveState(string key) => !key.StartsWith("cilium/.clustermesh-apiserver/", StringComparison.Ordinal);

    private async Task<List<KeyValue>> LiveStateAsync()
        => [.. (await _env.Mesh.ListPrefixAsync("cilium/")).Kvs.Where(kv => IsLiveState(kv.Key.ToStringUtf8()))];

    private async Task<HashSet<long>> LiveStateLeasesAsync() => [.. (await LiveStateAsync()).Select(kv => kv.Lease)];

    private async Task<ApiServerHost> StartReplicaAsync(string replica, TimeSpan electionTtl, Uri? etcdEndpoint = null)
    {
        var options = _env.Options();
        options.ReplicaId = replica;
        options.HeartbeatInterval = TimeSpan.FromSeconds(1);
        if (etcdEndpoint is not null)
        {
            options.EtcdEndpoints = [etcdEndpoint];
        }

        var host = await ApiServerHost.StartAsync(
            options,
            logging => logging.SetMinimumLevel(LogLevel.Warning),
            services => services.AddSingleton(new LeaderElectionOptions { LeaseTtl = electionTtl }));
        _replicas.Add(host);
        return host;
    }

    private static async Task<JsonNode> ElectionStatusAsync(ApiServerHost host)
    {
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        return JsonNode.Parse(await http.GetStringAsync("status"))!["leaderElection"]!;
    }

    private static async Task WaitLeadingAndReadyAsync(ApiServerHost host)
    {
        await Eventually.TrueAsync(async () => (bool)(await ElectionStatusAsync(host))["leader"]!, Timeout, "the replica to lead");
        await WaitReadyAsync(host);
    }

    private static async Task WaitReadyAsync(ApiServerHost host)
    {
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        await Eventually.TrueAsync(async () => (await http.GetAsync("readyz")).IsSuccessStatusCode, Timeout, "/readyz 200");
    }

    private static Task WaitStandingByAsync(ApiServerHost host, string leader) => Eventually.TrueAsync(
        async () => await ElectionStatusAsync(host) is var status && !(bool)status["leader"]! && (string?)status["holder"] == leader,
        Timeout,
        $"the replica to stand by for {leader}");
}
