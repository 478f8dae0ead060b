using System.Collections.Immutable;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.KvStoreMesh;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.ClusterMesh.ApiServer.Tests.Services;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;
using Federation.Mesh.Remote;
using Federation.Mesh.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Federation.ClusterMesh.ApiServer.Tests.KvStoreMesh;

/// <summary>
/// The whole path a remote backend takes to a node: clusters b and c export <c>shop/web</c> with their apiservers;
/// a's kvstoremesh mirrors both into a's etcd; a node of a reads only a's etcd (CachedRemoteClusterSource) and merges
/// the remote parts with a's own Service (GlobalServiceCache).
/// </summary>
[Trait("Needs", "etcd")]
[Collection(KvStoreMeshCollection.Name)]
public sealed class ThreeClusterMergeTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);
    private static readonly TimeSpan Heartbeat = TimeSpan.FromSeconds(1);
    private readonly ClusterEnvironment _a = new();
    private readonly ClusterEnvironment _b = new();
    private readonly ClusterEnvironment _c = new();
    private readonly List<ApiServerHost> _hosts = [];
    private readonly string _configDirectory = Directory.CreateTempSubdirectory("federation-merge-").FullName;

    public Task InitializeAsync() => Task.WhenAll(_a.InitializeAsync(), _b.InitializeAsync(), _c.InitializeAsync());

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        await Task.WhenAll(_a.DisposeAsync(), _b.DisposeAsync(), _c.DisposeAsync());
        Directory.Delete(_configDirectory, recursive: true);
    }

    [Fact]
    public async Task Services_exported_in_b_and_c_reach_the_merge_of_a_node_in_a_through_a_s_cache_only()
    {
        await StartExporterAsync(_b, "b", 2);
        await StartExporterAsync(_c, "c", 3);
        await WebAsync(_b, shared: true, "10.2.0.1", "10.2.0.2");
        await WebAsync(_c, shared: true, "10.3.0.1");
        foreach (var (name, env) in new[] { ("b", _b), ("c", _c) })
        {
            File.WriteAllText(Path.Combine(_configDirectory, name), $"endpoints:\n- {env.MeshEtcd.ClientEndpoints[0]}\n");
        }

        await StartKvStoreMeshAsync();

        // The node of a: one connection, to a's etcd.
        var cache = new GlobalServiceCache("a", 1);
        await using var source = new CachedRemoteClusterSource(
            _a.Mesh,
            new RemoteClusterOptions { LocalClusterName = "a", LocalClusterId = 1, HeartbeatInterval = Heartbeat, BackoffMin = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1) },
            new ServicesIntoCache(cache));
        await source.StartAsync(CancellationToken.None);
        cache.UpsertLocal(LocalWeb(ServiceAffinity.None, ("10.1.0.1", BackendState.Active)));

        await Eventually.TrueAsync(
            () => Task.FromResult(Backends(cache).SequenceEqual(["a/10.1.0.1:8080", "b/10.2.0.1:8080", "b/10.2.0.2:8080", "c/10.3.0.1:8080"])),
            Timeout,
            $"a's merge to hold every cluster's backends (now: {string.Join(", ", Backends(cache))})");
        // Services can be merged before the remotes' other kinds are synced: Ready follows once all four are.
        await Eventually.TrueAsync(
            () => Task.FromResult(source.GetStatus().Clusters is { Length: 2 } clusters && clusters.All(c => c.State == RemoteClusterState.Ready)),
            Timeout,
            "b and c Ready in a's cache");

        // Affinity local: only a's backend while it is active; the remote ones once it is not.
        cache.UpsertLocal(LocalWeb(ServiceAffinity.Local, ("10.1.0.1", BackendState.Active)));
        Assert.Equal(["a/10.1.0.1:8080"], Backends(cache));
        cache.UpsertLocal(LocalWeb(ServiceAffinity.Local, ("10.1.0.1", BackendState.NotReady)));
        Assert.Equal(["b/10.2.0.1:8080", "b/10.2.0.2:8080", "c/10.3.0.1:8080"], Backends(cache));

        // b stops sharing its backends: they leave a's merge (the change travels b → a's etcd → the node).
        await WebAsync(_b, shared: false, "10.2.0.1", "10.2.0.2");
        await Eventually.TrueAsync(
            () => Task.FromResult(Backends(cache).SequenceEqual(["c/10.3.0.1:8080"])),
            Timeout,
            $"b's backends withdrawn (now: {string.Join(", ", Backends(cache))})");

        // c leaves the mesh: its config file goes; the node loses c when kvstoremesh deletes c's cached config.
        File.Delete(Path.Combine(_configDirectory, "c"));
        await Eventually.TrueAsync(() => Task.FromResult(Backends(cache).Count == 0), Timeout, "c removed from a's merge");
        Assert.Null(source.GetStatus().Find("c"));
    }

    private static List<string> Backends(GlobalServiceCache cache)
        => cache.Get("shop", "web") is { Frontends: [var frontend, ..] } merged
            ? [.. frontend.Backends.Select(b => $"{b.Cluster}/{b.Ip}:{b.Port}")]
            : [];

    private static LocalService LocalWeb(ServiceAffinity affinity, params (string Ip, BackendState State)[] backends) => new()
    {
        Namespace = "shop",
        Name = "web",
        Global = true,
        Affinity = affinity,
        Frontends = [new LocalFrontend("127.96.1.10", "http", "TCP", 80)],
        Backends = [.. backends.Select(b => new LocalBackend { Ip = b.Ip, State = b.State, Ports = ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = 8080 }) })],
    };

    private async Task StartExporterAsync(ClusterEnvironment env, string name, uint id)
    {
        var options = env.Options(name, id);
        options.HeartbeatInterval = Heartbeat;
        _hosts.Add(await ApiServerHost.StartAsync(options, logging => logging.SetMinimumLevel(LogLevel.Warning)));
        await env.ApplyYamlAsync<Namespace>("""
            apiVersion: v1
            kind: Namespace
            metadata:
              name: shop
            """);
    }

    private static async Task WebAsync(ClusterEnvironment env, bool shared, params string[] backends)
    {
        await env.ApplyYamlAsync<Service>($"""
            apiVersion: v1
            kind: Service
            metadata:
              name: web
              namespace: shop
              annotations:
                service.cilium.io/global: "true"
                service.cilium.io/shared: "{(shared ? "true" : "false")}"
            spec:
              ports:
              - name: http
                port: 80
                protocol: TCP
                targetPort: 8080
            """);
        await env.ApplyYamlAsync<EndpointSlice>($"""
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
    }

    private async Task StartKvStoreMeshAsync()
    {
        var options = _a.Options("a", 1);
        options.HeartbeatInterval = Heartbeat;
        options.ClusterMeshConfig = _configDirectory;
        options.KvStoreMeshDrainGrace = TimeSpan.FromSeconds(1);
        _hosts.Add(await ApiServerHost.StartAsync(
            options,
            logging => logging.SetMinimumLevel(LogLevel.Warning),
            services => services.AddSingleton(new KvStoreMeshTuning { ConfigPollInterval = TimeSpan.FromMilliseconds(200), BackoffMin = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromSeconds(1) })));
    }

    /// <summary>What a node agent does with remote services: feed them to its global service cache.</summary>
    private sealed class ServicesIntoCache(GlobalServiceCache cache) : IRemoteClusterObserver
    {
        public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
        {
            if (decoded is ClusterService service)
            {
                cache.UpsertRemote(cluster, service);
            }
        }

        public void OnDelete(string cluster, ClusterMeshKind kind, string key)
        {
            if (kind == ClusterMeshKind.Services && key.Split('/') is [.., var ns, var name])
            {
                cache.DeleteRemote(cluster, ns, name);
            }
        }

        public void OnSynced(string cluster, ClusterMeshKind kind)
        {
        }

        public void OnClusterConfig(string cluster, CiliumClusterConfig config)
        {
        }

        public void OnRemoved(string cluster) => cache.RemoveCluster(cluster);
    }
}
