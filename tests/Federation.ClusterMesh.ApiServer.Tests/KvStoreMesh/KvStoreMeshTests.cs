using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.KvStoreMesh;
using Federation.ClusterMesh.ApiServer.Tests.HighAvailability;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.ClusterMesh.ApiServer.Tests.Services;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Protocol;
using Federation.Kubernetes.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.ClusterMesh.ApiServer.Tests.KvStoreMesh;

/// <summary>
/// Two clusters, each with its lab API server, its etcd and its clustermesh-apiserver: cluster "b" exports a global
/// Service; cluster "a" mirrors b into its own etcd with kvstoremesh.
/// </summary>
[Trait("Needs", "etcd")]
[Collection(KvStoreMeshCollection.Name)]
public sealed class KvStoreMeshTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);
    private readonly ClusterEnvironment _a = new();
    private readonly ClusterEnvironment _b = new();
    private readonly List<ApiServerHost> _hosts = [];
    private readonly string _configDirectory = Directory.CreateTempSubdirectory("federation-kvstoremesh-").FullName;

    private static string StateKey => ClusterMeshKeys.Service("b", "shop", "web");

    private static string CacheKey => ClusterMeshKeys.CachedService("b", "shop", "web");

    public async Task InitializeAsync()
    {
        await Task.WhenAll(_a.InitializeAsync(), _b.InitializeAsync());
    }

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        await Task.WhenAll(_a.DisposeAsync(), _b.DisposeAsync());
        Directory.Delete(_configDirectory, recursive: true);
    }

    [Fact]
    public async Task A_remote_is_mirrored_with_the_same_bytes_a_cached_config_and_canaries_and_follows_live_changes()
    {
        await ExportWebFromBAsync("10.2.0.1");
        WriteConfigFileForB();
        await StartAAsync();

        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(CacheKey) is not null, Timeout, "b's service in a's cache");
        Assert.Equal((await _b.Mesh.GetAsync(StateKey))!.Value.ToByteArray(), (await _a.Mesh.GetAsync(CacheKey))!.Value.ToByteArray());
        await Eventually.TrueAsync(async () => await CanariesAsync() == 4, Timeout, "a canary per kind in a's etcd");

        var configKv = (await _a.Mesh.GetAsync(ClusterMeshKeys.ClusterConfig("b")))!;
        Assert.True(ClusterMeshJson.TryDeserialize(configKv.Value.Span, out CiliumClusterConfig? config, out _));
        Assert.Equal(2u, config.Id);
        Assert.True(config.Capabilities.Cached);
        Assert.True(config.Capabilities.SyncedCanaries);
        Assert.NotEqual(0, configKv.Lease);

        // Live changes follow: a new backend, then the service leaves the mesh.
        await SliceAsync(_b, "10.2.0.1", "10.2.0.2");
        await Eventually.TrueAsync(
            async () => (await _a.Mesh.GetAsync(CacheKey))?.Value.ToStringUtf8().Contains("10.2.0.2", StringComparison.Ordinal) == true,
            Timeout,
            "the new backend in a's cache");
        Assert.Equal((await _b.Mesh.GetAsync(StateKey))!.Value.ToByteArray(), (await _a.Mesh.GetAsync(CacheKey))!.Value.ToByteArray());
        await _b.DeleteAsync<Service>("shop", "web");
        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(CacheKey) is null, Timeout, "the deleted service gone from a's cache");
    }

    [Fact]
    public async Task A_removed_remote_loses_its_config_at_once_and_its_cache_after_the_grace_period()
    {
        var grace = TimeSpan.FromSeconds(3);
        await ExportWebFromBAsync("10.2.0.1");
        WriteConfigFileForB();
        var a = await StartAAsync(grace);
        await Eventually.TrueAsync(async () => await CanariesAsync() == 4, Timeout, "b mirrored");

        File.Delete(Path.Combine(_configDirectory, "b"));
        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(ClusterMeshKeys.ClusterConfig("b")) is null, Timeout, "b's cached config deleted");
        var configGone = DateTime.UtcNow;
        Assert.NotNull(await _a.Mesh.GetAsync(CacheKey));

        await Eventually.TrueAsync(async () => await _a.Mesh.GetAsync(CacheKey) is null, Timeout, "b's cache drained");
        Assert.True(DateTime.UtcNow - configGone >= grace - TimeSpan.FromMilliseconds(500), "drained before the grace period");
        Assert.Equal(0, await CanariesAsync());
        Assert.Equal(0, await _a.Mesh.CountPrefixAsync("cilium/cache/"));
        Assert.Null((await StatusAsync(a))["cache"]!["b"]);
    }

    [Fact]
    public async Task A_restart_rewrites_the_cache_without_deleting_it_and_drains_remotes_removed_while_down()
    {
        await ExportWebFromBAsync("10.2.0.1");
        WriteConfigFileForB();

        // A stray cluster "c" mirrored by an earlier run whose config file is gone.
        var stray = new CiliumClusterConfig { Id = 3, Capabilities = new ClusterCapabilities { Cached = true, SyncedCanaries = true, MaxConnectedClusters = 255 } };
        await _a.Mesh.PutAsync(ClusterMeshKeys.ClusterConfig("c"), ClusterMeshJson.Serialize(stray));
        await _a.Mesh.PutAsync(ClusterMeshKeys.CachedService("c", "shop", "web"), "{}");

        var first = await StartAAsync(drainGrace: TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(async () => await CanariesAsync() == 4, Timeout, "b mirrored");
        await Eventually.TrueAsync(async () => await _a.Mesh.CountPrefixAsync(ClusterMeshKeys.CachePrefixFor(ClusterMeshKind.Services, "c")) == 0, Timeout, "c's left-overs drained");
        Assert.Null(await _a.Mesh.GetAsync(ClusterMeshKeys.ClusterConfig("c")));
        var canary = (await _a.Mesh.GetAsync(ClusterMeshKeys.CacheSyncedCanary(ClusterMeshKind.Services, "b")))!.ModRevision;

        await using var recorder = await EtcdRecorder.StartAsync(_a.Mesh);
        _hosts.Remove(first);
        await first.DisposeAsync();
        await StartAAsync(drainGrace: TimeSpan.FromSeconds(1));
        await Eventually.TrueAsync(
            async () => (await _a.Mesh.GetAsync(ClusterMeshKeys.CacheSyncedCanary(ClusterMeshKind.Services, "b")))!.ModRevision > canary,
            Timeout,
            "the canary written again by the new process");
        await recorder.CatchUpAsync(Timeout);
        Assert.DoesNotContain(recorder.Events, e => e.Type == Event.Types.EventType.Delete && e.Kv.Key.ToStringUtf8().StartsWith("cilium/cache/", StringComparison.Ordinal));
        Assert.NotNull(await _a.Mesh.GetAsync(CacheKey));
    }

    [Fact]
    public async Task Status_and_metrics_show_each_remote()
    {
        await ExportWebFromBAsync("10.2.0.1");
        WriteConfigFileForB();
        File.WriteAllText(Path.Combine(_configDirectory, "Bad_Name"), "endpoints:\n- http://127.0.0.1:1\n");
        var a = await StartAAsync();
        await Eventually.TrueAsync(async () => await CanariesAsync() == 4, Timeout, "b mirrored");

        var status = await StatusAsync(a);
        var remote = status["remotes"]!["clusters"]!.AsArray().Single()!;
        Assert.Equal("b", (string?)remote["name"]);
        Assert.Equal("Ready", (string?)remote["state"]);
        Assert.Equal(2, (int)remote["clusterId"]!);
        Assert.Equal("Bad_Name", (string?)status["remotes"]!["rejected"]![0]!["fileName"]);
        Assert.Equal(1, (int)status["cache"]!["b"]!["kinds"]!["services"]!["entries"]!);

        using var http = new HttpClient { BaseAddress = a.HealthUri };
        var metrics = await http.GetStringAsync("metrics");
        Assert.Contains("federation_remote_cluster_ready{cluster=\"b\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("federation_clustermesh_kvstoremesh_cached_entries{cluster=\"b\",kind=\"services\"} 1", metrics, StringComparison.Ordinal);
    }

    private async Task ExportWebFromBAsync(params string[] backends)
    {
        var options = _b.Options("b", 2);
        options.HeartbeatInterval = Heartbeat;
        _hosts.Add(await ApiServerHost.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning)));
        await _b.ApplyYamlAsync<Namespace>("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
            """);
        await _b.ApplyYamlAsync<Service>("""
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: shop
              annotations:
                service.cilium.io/global: "true"
            spec:
              ports:
              - name: http
                port: 80
                protocol: TCP
                targetPort: 8080
            """);
        await SliceAsync(_b, backends);
        await Eventually.TrueAsync(async () => await _b.Mesh.GetAsync(StateKey) is not null, Timeout, "web exported by b");
    }

    private static Task SliceAsync(ClusterEnvironment env, params string[] backends)
        => env.ApplyYamlAsync<EndpointSlice>($"""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: web-1
              namespace: shop
              labels:
                kubernetes.io/service-name: web
            addressType: IPv4
            endpoints:
            {string.Join('\n', backends.Select(b => $"- addresses: [{b}]\n  conditions: {{ready: true}}"))}
            ports:
            - name: http
              port: 8080
              protocol: TCP
            """);

    private void WriteConfigFileForB()
        => File.WriteAllText(Path.Combine(_configDirectory, "b"), $"endpoints:\n- {_b.MeshEtcd.ClientEndpoints[0]}\n");

    private async Task<ApiServerHost> StartAAsync(TimeSpan? drainGrace = null)
    {
        var options = _a.Options("a", 1);
        options.HeartbeatInterval = Heartbeat;
        options.ClusterMeshConfig = _configDirectory;
        options.KvStoreMeshDrainGrace = drainGrace ?? TimeSpan.FromSeconds(30);
        var host = await ApiServerHost.StartAsync(
            options,
            logging => logging.SetMinimumLevel(LogLevel.Warning),
            services => services.AddSingleton(new KvStoreMeshTuning { ConfigPollInterval = TimeSpan.FromMilliseconds(200), BackoffMin = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1) }));
        _hosts.Add(host);
        return host;
    }

    private async Task<int> CanariesAsync()
    {
        var count = 0;
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            if (await _a.Mesh.GetAsync(ClusterMeshKeys.CacheSyncedCanary(kind, "b")) is not null)
            {
                count++;
            }
        }

        return count;
    }

    private static async Task<JsonNode> StatusAsync(ApiServerHost host)
    {
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        return JsonNode.Parse(await http.GetStringAsync("status"))!["kvstoremesh"]!;
    }
}
