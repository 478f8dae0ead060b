using System.Globalization;
using System.Text.Json;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Identities;
using Federation.ClusterMesh.ApiServer.Tests.HighAvailability;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using K8sNode = Federation.Kubernetes.Models.Node;
using K8sNodeAddress = Federation.Kubernetes.Models.NodeAddress;

namespace Federation.ClusterMesh.ApiServer.Tests.Identities;

[Trait("Needs", "etcd")]
public sealed class IdentityExporterTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ClusterEnvironment _env = new();
    private readonly List<ApiServerHost> _hosts = [];

    public Task InitializeAsync() => _env.InitializeAsync();

    public async Task DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            await host.DisposeAsync();
        }

        await _env.DisposeAsync();
    }

    [Theory]
    [InlineData(3u, 255u)]
    [InlineData(300u, 511u)]
    public async Task Pods_with_the_same_labels_share_an_identity_and_different_labels_get_different_ids_in_the_cluster_range(uint clusterId, uint max)
    {
        await CreateNamespaceAsync("shop");
        await CreatePodAsync("shop", "web-1", "10.1.0.1", new() { ["app"] = "web" });
        await CreatePodAsync("shop", "web-2", "10.1.0.2", new() { ["app"] = "web" });
        await CreatePodAsync("shop", "db-1", "10.1.0.3", new() { ["app"] = "db" });
        var options = _env.Options("cluster3", clusterId);
        options.MaxConnectedClusters = max;

        await StartAsync(options);

        var web1 = await WaitForIpAsync("10.1.0.1");
        var web2 = await WaitForIpAsync("10.1.0.2");
        var db = await WaitForIpAsync("10.1.0.3");
        Assert.Equal(web1.Id, web2.Id);
        Assert.NotEqual(web1.Id, db.Id);
        var range = ClusterIdentity.GetIdentityRange(clusterId, max);
        Assert.True(range.Contains(web1.Id) && range.Contains(db.Id), $"{web1.Id} and {db.Id} must lie in {range}");
        Assert.Equal(clusterId, ClusterIdentity.ClusterIdOf(web1.Id, max));
        Assert.True((web1.Id & ((1u << ClusterIdentity.ClusterIdShift(max)) - 1)) >= 256, "local part below 256 is reserved");
        Assert.Equal(
            "k8s:app=web;k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop;k8s:io.cilium.k8s.policy.cluster=cluster3;k8s:io.kubernetes.pod.namespace=shop;",
            await IdentityValueAsync(web1.Id));
        Assert.Equal(2, (await _env.Mesh.ListPrefixAsync("cilium/state/identities/v1/id/")).Kvs.Count);
    }

    [Fact]
    public async Task The_label_string_ignores_cilium_ignored_labels_and_carries_namespace_labels_and_service_account()
    {
        await CreateNamespaceAsync("bar", labels: new() { ["team"] = "blue" });
        await CreatePodAsync(
            "bar",
            "app-7d9f-abcde",
            "10.2.0.1",
            new()
            {
                ["app"] = "baz",
                ["app.kubernetes.io/name"] = "baz",
                ["pod-template-hash"] = "7d9f",
                ["controller-revision-hash"] = "abc",
                ["pod-template-generation"] = "3",
                ["statefulset.kubernetes.io/pod-name"] = "app-0",
            },
            serviceAccount: "builder");
        await StartAsync(_env.Options("cluster3", 3));

        var entry = await WaitForIpAsync("10.2.0.1");

        Assert.Equal(
            "k8s:app=baz;k8s:app.kubernetes.io/name=baz;k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=bar;"
            + "k8s:io.cilium.k8s.namespace.labels.team=blue;k8s:io.cilium.k8s.policy.cluster=cluster3;"
            + "k8s:io.cilium.k8s.policy.serviceaccount=builder;k8s:io.kubernetes.pod.namespace=bar;",
            await IdentityValueAsync(entry.Id));
    }

    [Fact]
    public async Task Ip_entries_carry_the_node_internal_ip_and_the_pod_fields_in_cilium_bytes()
    {
        await CreateNamespaceAsync("foo");
        await _env.Kubernetes.CreateAsync(new K8sNode
        {
            Metadata = new ObjectMeta { Name = "node-a" },
            Status = new NodeStatus { Addresses = [new K8sNodeAddress { Type = "Hostname", Address = "node-a" }, new K8sNodeAddress { Type = "InternalIP", Address = "172.18.0.3" }] },
        });
        var pod = await CreatePodAsync("foo", "cep-001", "10.244.1.79", new() { ["app"] = "bar" }, node: "node-a", hostIp: "192.0.2.9", serviceAccount: "default", ipv6: "fd00:10:244:1::d643");
        await CreatePodAsync("foo", "elsewhere", "10.244.1.80", new() { ["app"] = "bar" }, node: "node-unknown", hostIp: "192.0.2.9", serviceAccount: "default");
        await StartAsync(_env.Options("cluster3", 3));

        var entry = await WaitForIpAsync("10.244.1.79");
        await WaitForIpAsync("fd00:10:244:1::d643");
        var fallback = await WaitForIpAsync("10.244.1.80");

        var expected = string.Create(
            CultureInfo.InvariantCulture,
            $$"""{"IP":"10.244.1.79","HostIP":"172.18.0.3","ID":{{entry.Id}},"Key":0,"Metadata":"","K8sNamespace":"foo","K8sPodName":"cep-001","K8sPodUID":"{{pod.Metadata.Uid}}","K8sServiceAccount":"default"}""");
        Assert.Equal(expected, (await _env.Mesh.GetAsync("cilium/state/ip/v1/default/10.244.1.79"))!.Value.ToStringUtf8());
        Assert.Equal("192.0.2.9", fallback.HostIP);
        Assert.Equal(entry.Id, fallback.Id);
    }

    [Fact]
    public async Task Pods_that_are_not_running_and_namespaces_that_opt_out_are_not_exported()
    {
        await CreateNamespaceAsync("live");
        await CreateNamespaceAsync("private", annotations: new() { ["clustermesh.cilium.io/global"] = "false" });
        await CreatePodAsync("live", "pending", "10.3.0.1", new() { ["app"] = "p" }, phase: "Pending");
        await CreatePodAsync("live", "done", "10.3.0.2", new() { ["app"] = "d" }, phase: "Succeeded");
        await CreatePodAsync("private", "hidden", "10.3.0.3", new() { ["app"] = "h" });
        await CreatePodAsync("live", "running", "10.3.0.4", new() { ["app"] = "r" });
        await StartAsync(_env.Options("cluster3", 3));
        await WaitForCanariesAsync();

        await WaitForIpAsync("10.3.0.4");
        var ips = (await _env.Mesh.ListPrefixAsync("cilium/state/ip/v1/")).Kvs.Select(kv => kv.Key.ToStringUtf8()).ToList();
        Assert.Equal(["cilium/state/ip/v1/default/10.3.0.4"], ips);
        Assert.Single((await _env.Mesh.ListPrefixAsync("cilium/state/identities/v1/id/")).Kvs);

        // Opting the namespace out later removes its entries.
        var ns = await _env.Kubernetes.GetAsync<Namespace>(null, "live");
        await _env.Kubernetes.UpdateAsync(ns with { Metadata = ns.Metadata with { Annotations = new Dictionary<string, string> { ["clustermesh.cilium.io/global"] = "false" } } });
        await Eventually.TrueAsync(async () => await _env.Mesh.GetAsync("cilium/state/ip/v1/default/10.3.0.4") is null, Timeout, "the ip entry removed after opt-out");
    }

    [Fact]
    public async Task Identities_survive_an_apiserver_restart_with_the_same_ids()
    {
        await CreateNamespaceAsync("shop");
        await CreatePodAsync("shop", "web-1", "10.4.0.1", new() { ["app"] = "web" });
        await CreatePodAsync("shop", "db-1", "10.4.0.2", new() { ["app"] = "db" });
        var first = await StartAsync(_env.Options("cluster3", 3));
        var web = (await WaitForIpAsync("10.4.0.1")).Id;
        var db = (await WaitForIpAsync("10.4.0.2")).Id;
        await StopAsync(first);

        // A pod with new labels created while down must not take an id already held.
        await CreatePodAsync("shop", "cache-1", "10.4.0.3", new() { ["app"] = "cache" });
        await StartAsync(_env.Options("cluster3", 3));
        await WaitForCanariesAsync();

        var cache = await WaitForIpAsync("10.4.0.3");
        Assert.Equal(web, (await WaitForIpAsync("10.4.0.1")).Id);
        Assert.Equal(db, (await WaitForIpAsync("10.4.0.2")).Id);
        Assert.DoesNotContain(cache.Id, new[] { web, db });
        Assert.NotNull(await _env.Mesh.GetAsync(ClusterMeshKeys.Identity(web)));
    }

    [Fact]
    public async Task An_unused_identity_is_released_after_the_grace_period_and_not_before()
    {
        var grace = TimeSpan.FromSeconds(4);
        await CreateNamespaceAsync("shop");
        await CreatePodAsync("shop", "web-1", "10.5.0.1", new() { ["app"] = "web" });
        await CreatePodAsync("shop", "db-1", "10.5.0.2", new() { ["app"] = "db" });
        await StartAsync(_env.Options("cluster3", 3), grace);
        var web = (await WaitForIpAsync("10.5.0.1")).Id;
        var db = (await WaitForIpAsync("10.5.0.2")).Id;

        var deletedAt = DateTime.UtcNow;
        await _env.Kubernetes.DeleteAsync<Pod>("shop", "web-1");
        await Eventually.TrueAsync(async () => await _env.Mesh.GetAsync("cilium/state/ip/v1/default/10.5.0.1") is null, Timeout, "the ip entry removed");
        Assert.True(DateTime.UtcNow - deletedAt < grace, "test setup too slow to observe the grace period");
        Assert.NotNull(await _env.Mesh.GetAsync(ClusterMeshKeys.Identity(web)));

        await Eventually.TrueAsync(async () => await _env.Mesh.GetAsync(ClusterMeshKeys.Identity(web)) is null, Timeout, "the unused identity released");
        Assert.True(DateTime.UtcNow - deletedAt >= grace, "released before the grace period");
        Assert.NotNull(await _env.Mesh.GetAsync(ClusterMeshKeys.Identity(db)));
        Assert.Empty((await _env.Mesh.ListPrefixAsync("federation/identities/cluster3/labels/k8s:app=web;")).Kvs);
    }

    [Fact]
    public async Task Canaries_are_written_after_the_initial_export_and_the_server_reports_it()
    {
        await CreateNamespaceAsync("shop");
        for (var i = 0; i < 20; i++)
        {
            await CreatePodAsync("shop", $"web-{i}", $"10.6.0.{i + 1}", new() { ["app"] = $"web{i % 4}" });
        }

        var host = await StartAsync(_env.Options("cluster3", 3));
        await WaitForCanariesAsync();

        // Everything of the initial list is present once the canaries exist.
        Assert.Equal(20, (await _env.Mesh.ListPrefixAsync("cilium/state/ip/v1/default/")).Kvs.Count);
        Assert.Equal(4, (await _env.Mesh.ListPrefixAsync("cilium/state/identities/v1/id/")).Kvs.Count);
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        await Eventually.TrueAsync(async () => (await http.GetAsync("readyz")).IsSuccessStatusCode, Timeout, "/readyz 200");
        var status = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("status"))!;
        Assert.Equal(4, status["identities"]!["allocatedIdentities"]!.GetValue<int>());
        Assert.Equal(20, status["identities"]!["ipEntries"]!.GetValue<int>());
        Assert.True(status["synced"]!["identities"]!.GetValue<bool>());
        Assert.True(status["synced"]!["ip"]!.GetValue<bool>());
        Assert.Contains("federation_clustermesh_identities_allocated", await http.GetStringAsync("metrics"));
    }

    [Fact]
    public async Task After_a_leader_failover_identities_and_ip_entries_stay_and_new_pods_get_ids_without_collisions()
    {
        var electionTtl = TimeSpan.FromSeconds(3);
        await CreateNamespaceAsync("shop");
        await CreatePodAsync("shop", "web-1", "10.7.0.1", new() { ["app"] = "web" });
        await CreatePodAsync("shop", "db-1", "10.7.0.2", new() { ["app"] = "db" });
        await using var proxy = new LoopbackProxy(_env.MeshEtcd.ClientEndpoints[0]);
        try
        {
            await StartReplicaAsync("replica-a", electionTtl, proxy.Endpoint);
            await WaitForCanariesAsync();
            var web = (await WaitForIpAsync("10.7.0.1")).Id;
            var db = (await WaitForIpAsync("10.7.0.2")).Id;
            var b = await StartReplicaAsync("replica-b", electionTtl);
            await Eventually.TrueAsync(async () => (string?)(await LeaderElectionAsync(b))["holder"] == "replica-a", Timeout, "replica-b standing by");
            var before = await IdentityStateAsync();
            var leasesOfA = before.Values.Select(v => v.Lease).ToHashSet();
            await using var recorder = await EtcdRecorder.StartAsync(_env.Mesh);

            proxy.Block();
            await Eventually.TrueAsync(async () => (bool)(await LeaderElectionAsync(b))["leader"]!, Timeout, "replica-b to lead");

            // The new leader took every key over (its own leases), with the same values.
            await Eventually.TrueAsync(
                async () => (await IdentityStateAsync()).Values.All(kv => !leasesOfA.Contains(kv.Lease)),
                Timeout,
                "the identity and ip keys on the new leader's leases");
            var after = await IdentityStateAsync();
            Assert.Equal(before.Keys.Order(StringComparer.Ordinal), after.Keys.Order(StringComparer.Ordinal));
            Assert.All(before, kv => Assert.Equal(kv.Value.Value, after[kv.Key].Value));

            // It allocates from what the old leader allocated: same labels, same id; new labels, a new id.
            await CreatePodAsync("shop", "db-2", "10.7.0.3", new() { ["app"] = "db" });
            await CreatePodAsync("shop", "cache-1", "10.7.0.4", new() { ["app"] = "cache" });
            Assert.Equal(db, (await WaitForIpAsync("10.7.0.3")).Id);
            var cache = (await WaitForIpAsync("10.7.0.4")).Id;
            Assert.DoesNotContain(cache, new[] { web, db });
            Assert.Equal("replica-b", (await _env.Mesh.GetAsync(Federation.ClusterMesh.ApiServer.HighAvailability.LeaderElectionOptions.Key("cluster3")))!.Value.ToStringUtf8());

            await recorder.CatchUpAsync(Timeout);
            var deletions = recorder.Events
                .Where(e => e.Type == Federation.Etcd.Protocol.Event.Types.EventType.Delete && IsIdentityState(e.Kv.Key.ToStringUtf8()))
                .Select(e => e.Kv.Key.ToStringUtf8());
            Assert.Empty(deletions);
        }
        finally
        {
            // The cut-off replica must reach etcd again to shut down promptly.
            proxy.Unblock();
        }
    }

    private static bool IsIdentityState(string key)
        => key.StartsWith(ClusterMeshKeys.IdentitiesPrefix + "/", StringComparison.Ordinal) || key.StartsWith(ClusterMeshKeys.IpPrefix + "/", StringComparison.Ordinal);

    private async Task<Dictionary<string, Federation.Etcd.Protocol.KeyValue>> IdentityStateAsync()
    {
        var identities = await _env.Mesh.ListPrefixAsync(ClusterMeshKeys.IdentitiesPrefix + "/");
        var ips = await _env.Mesh.ListPrefixAsync(ClusterMeshKeys.IpPrefix + "/");
        return identities.Kvs.Concat(ips.Kvs).ToDictionary(kv => kv.Key.ToStringUtf8(), StringComparer.Ordinal);
    }

    private async Task<ApiServerHost> StartReplicaAsync(string replica, TimeSpan electionTtl, Uri? etcdEndpoint = null)
    {
        var options = _env.Options("cluster3", 3);
        options.ReplicaId = replica;
        if (etcdEndpoint is not null)
        {
            options.EtcdEndpoints = [etcdEndpoint];
        }

        var host = await ApiServerHost.StartAsync(
            options,
            logging => logging.SetMinimumLevel(LogLevel.Warning),
            services => services
                .AddSingleton(new IdentityExportOptions { ReleaseGracePeriod = TimeSpan.FromMinutes(5) })
                .AddSingleton(new Federation.ClusterMesh.ApiServer.HighAvailability.LeaderElectionOptions { LeaseTtl = electionTtl }));
        _hosts.Add(host);
        return host;
    }

    private static async Task<System.Text.Json.Nodes.JsonNode> LeaderElectionAsync(ApiServerHost host)
    {
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        return System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("status"))!["leaderElection"]!;
    }

    private async Task<ApiServerHost> StartAsync(ApiServerOptions options, TimeSpan? grace = null)
    {
        var host = await ApiServerHost.StartAsync(
            options,
            logging => logging.SetMinimumLevel(LogLevel.Warning),
            services => services.AddSingleton(new IdentityExportOptions { ReleaseGracePeriod = grace ?? TimeSpan.FromMinutes(5) }));
        _hosts.Add(host);
        return host;
    }

    private async Task StopAsync(ApiServerHost host)
    {
        _hosts.Remove(host);
        await host.DisposeAsync();
    }

    private async Task WaitForCanariesAsync()
    {
        await Eventually.TrueAsync(async () => await _env.Mesh.GetAsync("cilium/synced/cluster3/cilium/state/identities/v1") is not null, Timeout, "identities canary");
        await Eventually.TrueAsync(async () => await _env.Mesh.GetAsync("cilium/synced/cluster3/cilium/state/ip/v1") is not null, Timeout, "ip canary");
    }

    private async Task<IPIdentityPair> WaitForIpAsync(string ip)
    {
        IPIdentityPair? pair = null;
        await Eventually.TrueAsync(
            async () =>
            {
                var kv = await _env.Mesh.GetAsync(ClusterMeshKeys.Ip(ip));
                if (kv is null || !ClusterMeshJson.TryDeserialize(kv.Value.Span, out IPIdentityPair? parsed, out _))
                {
                    return false;
                }

                pair = parsed;
                return true;
            },
            Timeout,
            $"ip entry {ip}");
        return pair!;
    }

    private async Task<string?> IdentityValueAsync(uint id)
    {
        string? value = null;
        await Eventually.TrueAsync(
            async () => (value = (await _env.Mesh.GetAsync(ClusterMeshKeys.Identity(id)))?.Value.ToStringUtf8()) is not null, Timeout, $"identity {id}");
        return value;
    }

    private Task<Namespace> CreateNamespaceAsync(string name, Dictionary<string, string>? labels = null, Dictionary<string, string>? annotations = null)
        => _env.Kubernetes.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = name, Labels = labels, Annotations = annotations } });

    private Task<Pod> CreatePodAsync(
        string ns,
        string name,
        string ip,
        Dictionary<string, string> labels,
        string phase = "Running",
        string? node = null,
        string? hostIp = null,
        string? serviceAccount = null,
        string? ipv6 = null)
    {
        var spec = new PodSpec { NodeName = node, Containers = [new Container { Name = "main", Image = "busybox" }] };
        if (serviceAccount is not null)
        {
            spec.ExtensionData = new Dictionary<string, JsonElement> { ["serviceAccountName"] = JsonSerializer.SerializeToElement(serviceAccount, JsonContext.Default.String) };
        }

        return _env.Kubernetes.CreateAsync(new Pod
        {
            Metadata = new ObjectMeta { Name = name, Namespace = ns, Labels = labels },
            Spec = spec,
            Status = new PodStatus
            {
                Phase = phase,
                PodIP = ip,
                PodIPs = ipv6 is null ? [new PodIP { Ip = ip }] : [new PodIP { Ip = ip }, new PodIP { Ip = ipv6 }],
                HostIP = hostIp,
            },
        });
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(string))]
internal sealed partial class JsonContext : System.Text.Json.Serialization.JsonSerializerContext;
