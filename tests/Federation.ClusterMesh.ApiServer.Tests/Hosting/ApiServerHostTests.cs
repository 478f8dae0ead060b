using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Etcd;

namespace Federation.ClusterMesh.ApiServer.Tests.Hosting;

[Trait("Needs", "etcd")]
public sealed class ApiServerHostTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ClusterEnvironment _env = new();

    public Task InitializeAsync() => _env.InitializeAsync();

    public Task DisposeAsync() => _env.DisposeAsync();

    [Fact]
    public async Task Writes_the_cluster_config_keeps_it_enforced_and_becomes_ready()
    {
        var options = _env.Options(clusterName: "cluster3", clusterId: 5);
        var host = await _env.StartApiServerAsync(options);
        using var http = new HttpClient { BaseAddress = host.HealthUri };

        await Eventually.TrueAsync(async () => (await http.GetAsync("readyz")).IsSuccessStatusCode, Timeout, "/readyz 200");
        const string Expected = """{"id":5,"capabilities":{"syncedCanaries":true,"maxConnectedClusters":255,"serviceExportsEnabled":false}}""";
        Assert.Equal(Expected, (await _env.Mesh.GetAsync("cilium/cluster-config/cluster3"))!.Value.ToStringUtf8());
        Assert.Equal("ok\n", await http.GetStringAsync("healthz"));

        await _env.Mesh.PutAsync("cilium/cluster-config/cluster3", Expected.Replace("\"id\":5", "\"id\":3", StringComparison.Ordinal));
        await Eventually.TrueAsync(async () => (await _env.Mesh.GetAsync("cilium/cluster-config/cluster3"))?.Value.ToStringUtf8() == Expected, Timeout, "the edit reverted");
        await _env.Mesh.DeleteAsync("cilium/cluster-config/cluster3");
        await Eventually.TrueAsync(async () => (await _env.Mesh.GetAsync("cilium/cluster-config/cluster3"))?.Value.ToStringUtf8() == Expected, Timeout, "the deleted key written back");

        Assert.NotNull(await _env.Mesh.GetAsync("cilium/.heartbeat"));
        var metrics = await http.GetStringAsync("metrics");
        Assert.Contains("# TYPE federation_etcd_sync_writes_total counter", metrics);
        Assert.Contains("federation_clustermesh_bootstrap_seconds ", metrics);
        var status = System.Text.Json.Nodes.JsonNode.Parse(await http.GetStringAsync("status"))!;
        Assert.Equal("cluster3", status["cluster"]!.GetValue<string>());
        Assert.True(status["ready"]!.GetValue<bool>());
    }

    [Theory]
    [InlineData(new[] { "--cluster-name", "Bad_Name", "--cluster-id", "1", "--etcd-endpoints", "http://127.0.0.1:2379" }, "--cluster-name")]
    [InlineData(new[] { "--cluster-name", "default", "--cluster-id", "1", "--etcd-endpoints", "http://127.0.0.1:2379" }, "--cluster-name")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "0", "--etcd-endpoints", "http://127.0.0.1:2379" }, "--cluster-id")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "300", "--etcd-endpoints", "http://127.0.0.1:2379" }, "--cluster-id")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "300", "--max-connected-clusters", "511", "--etcd-endpoints", "ftp://x" }, "--etcd-endpoints")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "1", "--max-connected-clusters", "300", "--etcd-endpoints", "http://127.0.0.1:2379" }, "--max-connected-clusters")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "1" }, "--etcd-endpoints")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "1", "--etcd-endpoints", "http://127.0.0.1:2379", "--lease-ttl", "soon" }, "--lease-ttl")]
    [InlineData(new[] { "--cluster-name", "c1", "--cluster-id", "1", "--etcd-endpoints", "http://127.0.0.1:2379", "--bogus", "1" }, "--bogus")]
    public void Bad_flags_are_refused_naming_the_flag(string[] args, string flag)
    {
        var (_, errors) = ApiServerFlags.Parse(args);

        Assert.Contains(errors, e => e.StartsWith(flag, StringComparison.Ordinal));
    }

    [Fact]
    public void Good_flags_parse()
    {
        var (options, errors) = ApiServerFlags.Parse(["--cluster-name=c1", "--cluster-id=300", "--max-connected-clusters=511", "--etcd-endpoints=https://127.0.0.1:2379,https://127.0.0.1:2380", "--lease-ttl=90s", "--peer-clusters=c2,c3"]);

        Assert.Empty(errors);
        Assert.Equal((300u, 511u, 2, TimeSpan.FromSeconds(90)), (options.ClusterId, options.MaxConnectedClusters, options.EtcdEndpoints.Count, options.LeaseTtl));
        Assert.Equal(["c2", "c3"], options.PeerClusters);
    }
}
