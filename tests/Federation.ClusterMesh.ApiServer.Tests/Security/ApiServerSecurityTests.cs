using Federation.ClusterMesh.ApiServer.Security;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Etcd;
using Federation.Etcd.Tests.Infrastructure;

namespace Federation.ClusterMesh.ApiServer.Tests.Security;

/// <summary>The whole path: certificates from the tool, etcd served with them, the apiserver host bootstrapping access before it exports.</summary>
[Trait("Needs", "etcd")]
public sealed class ApiServerSecurityTests : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly ClusterEnvironment _env = new();
    private readonly List<IEtcdClient> _clients = [];
    private EtcdServer _etcd = null!;
    private string _certs = null!;

    public async Task InitializeAsync()
    {
        await _env.InitializeAsync();
        _certs = Path.Combine(_env.Directory, "mesh-certs");
        Assert.Equal(0, CertificateToolCommand.Run(["--out", _certs, "--cluster", "cluster1", "--peers", "cluster2"], TextWriter.Null, TextWriter.Null));
        // The fixture's own TLS flags come first; these later ones replace them (etcd keeps the last value of a flag).
        _etcd = await EtcdServer.StartAsync(new EtcdServerOptions
        {
            Tls = true,
            ExtraArguments =
            [
                "--cert-file=" + Path.Combine(_certs, "etcd-server.crt"),
                "--key-file=" + Path.Combine(_certs, "etcd-server.key"),
                "--trusted-ca-file=" + Path.Combine(_certs, "ca.crt"),
            ],
        });
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        await _env.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    [Fact]
    public async Task Apiserver_with_the_tools_admin_certificate_sets_up_access_then_exports_and_peers_can_only_read()
    {
        var options = _env.Options(clusterName: "cluster1", clusterId: 1);
        options.EtcdEndpoints = [.. _etcd.ClientEndpoints];
        options.EtcdCaFile = Path.Combine(_certs, "ca.crt");
        options.EtcdCertFile = Path.Combine(_certs, "admin-cluster1.crt");
        options.EtcdKeyFile = Path.Combine(_certs, "admin-cluster1.key");
        options.PeerClusters = ["cluster2"];

        await _env.StartApiServerAsync(options);

        var remote = Client("remote-cluster2");
        await Eventually.TrueAsync(async () => await remote.GetAsync("cilium/cluster-config/cluster1") is not null, Timeout, "cluster config readable by remote-cluster2");
        await Eventually.TrueAsync(async () => await remote.GetAsync("cilium/.heartbeat") is not null, Timeout, "heartbeat readable by remote-cluster2");
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.PutAsync("cilium/state/nodes/v1/cluster1/fake", "x"));
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.GetAsync("cilium/cache/nodes/v1/cluster2/n"));

        var local = Client("local-cluster1");
        Assert.NotNull(await local.GetAsync("cilium/cluster-config/cluster1"));
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => local.PutAsync("cilium/cache/nodes/v1/cluster2/n", "x"));
    }

    [Fact]
    public async Task Apiserver_given_a_certificate_that_is_not_its_admin_fails_to_start_and_leaves_etcd_auth_off()
    {
        var options = _env.Options(clusterName: "cluster1", clusterId: 1);
        options.EtcdEndpoints = [.. _etcd.ClientEndpoints];
        options.EtcdCaFile = Path.Combine(_certs, "ca.crt");
        options.EtcdCertFile = Path.Combine(_certs, "local-cluster1.crt");
        options.EtcdKeyFile = Path.Combine(_certs, "local-cluster1.key");

        var error = await Assert.ThrowsAsync<EtcdAccessBootstrapException>(() => _env.StartApiServerAsync(options));

        Assert.Contains("--etcd-cert-file", error.Message, StringComparison.Ordinal);
        Assert.Contains("'local-cluster1'", error.Message, StringComparison.Ordinal);
        var admin = Client("admin-cluster1");
        Assert.Empty(await admin.UserListAsync());
        Assert.Null(await admin.GetAsync("cilium/cluster-config/cluster1"));
    }

    private IEtcdClient Client(string user)
    {
        var client = EtcdClient.Create(new EtcdClientOptions
        {
            Endpoints = [.. _etcd.ClientEndpoints],
            CaFile = Path.Combine(_certs, "ca.crt"),
            CertFile = Path.Combine(_certs, user + ".crt"),
            KeyFile = Path.Combine(_certs, user + ".key"),
        });
        _clients.Add(client);
        return client;
    }
}
