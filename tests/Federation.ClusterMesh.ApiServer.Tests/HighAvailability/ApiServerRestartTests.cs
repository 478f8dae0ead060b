using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Etcd;
using Federation.Etcd.Protocol;

namespace Federation.ClusterMesh.ApiServer.Tests.HighAvailability;

[Trait("Needs", "etcd")]
public sealed class ApiServerRestartTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ClusterEnvironment _env = new();

    public Task InitializeAsync() => _env.InitializeAsync();

    public Task DisposeAsync() => _env.DisposeAsync();

    [Fact]
    public async Task A_restarted_single_server_deletes_nothing_keeps_its_keys_and_rewrites_its_canaries()
    {
        var options = _env.Options();
        var first = await _env.StartApiServerAsync(options);
        await WaitReadyAsync(first);
        var before = (await _env.Mesh.ListPrefixAsync("cilium/")).Kvs.ToDictionary(kv => kv.Key.ToStringUtf8(), kv => kv.ModRevision);
        Assert.Contains("cilium/cluster-config/cluster1", before.Keys);
        Assert.Contains("cilium/.heartbeat", before.Keys);
        // The canaries, or the heartbeat while no exporter writes a canary yet: what a restart must rewrite.
        var rewritten = before.Keys.Where(k => k.StartsWith("cilium/synced/", StringComparison.Ordinal)).DefaultIfEmpty("cilium/.heartbeat").ToList();
        await using var recorder = await EtcdRecorder.StartAsync(_env.Mesh);

        await _env.StopAsync(first);
        var second = await _env.StartApiServerAsync(options);
        await WaitReadyAsync(second);
        await Eventually.TrueAsync(
            async () =>
            {
                var now = (await _env.Mesh.ListPrefixAsync("cilium/")).Kvs.ToDictionary(kv => kv.Key.ToStringUtf8(), kv => kv.ModRevision);
                return rewritten.All(k => now.TryGetValue(k, out var revision) && revision > before[k]);
            },
            Timeout,
            "the canaries rewritten: " + string.Join(", ", rewritten));
        await recorder.CatchUpAsync(Timeout);

        Assert.Empty(recorder.Events.Where(e => e.Type == Event.Types.EventType.Delete).Select(e => e.Kv.Key.ToStringUtf8()));
        var after = (await _env.Mesh.ListPrefixAsync("cilium/")).Kvs.Select(kv => kv.Key.ToStringUtf8()).ToList();
        Assert.All(before.Keys, key => Assert.Contains(key, after));
    }

    private static async Task WaitReadyAsync(ApiServerHost host)
    {
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        await Eventually.TrueAsync(async () => (await http.GetAsync("readyz")).IsSuccessStatusCode, Timeout, "/readyz 200");
    }
}
