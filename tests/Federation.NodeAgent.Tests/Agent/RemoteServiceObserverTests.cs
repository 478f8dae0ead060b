using System.Collections.Immutable;
using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Services;
using Federation.NodeAgent.Sync;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tests.Agent;

public sealed class RemoteServiceObserverTests
{
    private static readonly LocalService Local = new()
    {
        Namespace = "default",
        Name = "web",
        Global = true,
        Frontends = [new LocalFrontend("10.96.0.10", "http", "TCP", 80)],
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Remote_services_reach_the_merge_and_leave_it_on_delete_in_either_key_layout(bool cacheLayout)
    {
        var cache = new GlobalServiceCache("cluster1", 1);
        var observer = new RemoteServiceObserver(cache, NullLogger<RemoteServiceObserver>.Instance);
        cache.UpsertLocal(Local);
        var key = cacheLayout ? ClusterMeshKeys.CachedService("cluster2", "default", "web") : ClusterMeshKeys.Service("cluster2", "default", "web");

        observer.OnUpsert("cluster2", ClusterMeshKind.Services, key, default, Remote("cluster2", 2, "10.1.0.5"));
        Assert.Equal(["10.1.0.5"], Backends(cache));

        observer.OnDelete("cluster2", ClusterMeshKind.Services, key);
        Assert.Empty(Backends(cache));
    }

    [Fact]
    public void A_removed_cluster_is_withdrawn_at_once_and_other_kinds_are_ignored()
    {
        var cache = new GlobalServiceCache("cluster1", 1);
        var observer = new RemoteServiceObserver(cache, NullLogger<RemoteServiceObserver>.Instance);
        cache.UpsertLocal(Local);
        observer.OnUpsert("cluster2", ClusterMeshKind.Services, ClusterMeshKeys.Service("cluster2", "default", "web"), default, Remote("cluster2", 2, "10.1.0.5"));
        observer.OnUpsert("cluster3", ClusterMeshKind.Services, ClusterMeshKeys.Service("cluster3", "default", "web"), default, Remote("cluster3", 3, "10.2.0.5"));
        observer.OnDelete("cluster2", ClusterMeshKind.Nodes, ClusterMeshKeys.Node("cluster2", "default"));
        Assert.Equal(["10.1.0.5", "10.2.0.5"], Backends(cache));

        observer.OnRemoved("cluster2");
        Assert.Equal(["10.2.0.5"], Backends(cache));
    }

    private static List<string> Backends(GlobalServiceCache cache)
        => [.. cache.Get("default", "web")!.Frontends.SelectMany(f => f.Backends).Select(b => b.Ip)];

    private static ClusterService Remote(string cluster, uint id, string backend) => new()
    {
        Cluster = cluster,
        Namespace = "default",
        Name = "web",
        Backends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty.Add(
            backend, ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = 8080 })),
        IncludeExternal = true,
        Shared = true,
        ClusterId = id,
    };
}
