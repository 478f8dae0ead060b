using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.ClusterMesh.ApiServer.Security;
using Federation.Etcd;
using Federation.Etcd.Protocol;
using Federation.Etcd.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.ClusterMesh.ApiServer.Tests.Security;

/// <summary>The etcd users, roles and auth the apiserver sets up, checked with each user's own certificate against a real mTLS etcd.</summary>
[Trait("Needs", "etcd")]
public sealed class EtcdAccessBootstrapTests : IAsyncLifetime
{
    private const string Cluster = "cluster1";
    private EtcdServer _etcd = null!;
    private IEtcdClient _admin = null!;
    private readonly List<IEtcdClient> _clients = [];

    public async Task InitializeAsync()
    {
        _etcd = await EtcdServer.StartAsync(new EtcdServerOptions { Tls = true });
        _admin = Client(EtcdAccessPlan.AdminUser(Cluster));
        // What the exporters and kvstoremesh would have written, before auth is on.
        foreach (var key in new[]
        {
            "cilium/.heartbeat",
            "cilium/state/nodes/v1/cluster1/node1",
            "cilium/state/services/v1/cluster1/default/web",
            "cilium/cluster-config/cluster1",
            "cilium/cluster-config/cluster3",
            "cilium/synced/cluster1/nodes",
            "cilium/synced/cluster3/nodes",
            "cilium/cache/nodes/v1/cluster3/node9",
            "other/key",
        })
        {
            await _admin.PutAsync(key, "v");
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        await _etcd.DisposeAsync();
    }

    [Fact]
    public async Task Remote_peer_reads_state_heartbeat_and_own_config_and_canaries_only_and_cannot_write()
    {
        await BootstrapAsync(peers: ["cluster2"]);
        var remote = Client(EtcdAccessPlan.RemoteUser("cluster2"));

        foreach (var readable in new[] { "cilium/.heartbeat", "cilium/state/nodes/v1/cluster1/node1", "cilium/cluster-config/cluster1", "cilium/synced/cluster1/nodes" })
        {
            Assert.NotNull(await remote.GetAsync(readable));
        }

        Assert.Equal(2, (await remote.ListPrefixAsync("cilium/state/")).Kvs.Count);
        // cluster10 and .heartbeat-old start with a granted key: single-key grants must not cover them.
        foreach (var hidden in new[] { "cilium/cache/nodes/v1/cluster3/node9", "cilium/cluster-config/cluster3", "cilium/cluster-config/cluster10", "cilium/.heartbeat-old", "cilium/synced/cluster3/nodes", "other/key" })
        {
            await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.GetAsync(hidden));
        }

        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.ListPrefixAsync("cilium/"));
        await AssertCannotWriteAsync(remote);
    }

    [Fact]
    public async Task Local_agents_read_cache_configs_canaries_state_and_heartbeat_and_cannot_write()
    {
        await BootstrapAsync(peers: ["cluster2"]);
        var local = Client(EtcdAccessPlan.LocalUser(Cluster));

        // The heartbeat too: the cached remote source tells a live cache from a stopped apiserver by it.
        foreach (var readable in new[] { "cilium/cache/nodes/v1/cluster3/node9", "cilium/cluster-config/cluster3", "cilium/synced/cluster3/nodes", "cilium/state/nodes/v1/cluster1/node1", "cilium/.heartbeat" })
        {
            Assert.NotNull(await local.GetAsync(readable));
        }

        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => local.GetAsync("other/key"));
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => local.GetAsync("cilium/.heartbeat-old"));
        await AssertCannotWriteAsync(local);
    }

    [Fact]
    public async Task Bootstrap_run_twice_succeeds_and_leaves_the_same_users_with_auth_enabled()
    {
        await BootstrapAsync(peers: ["cluster2"]);
        await BootstrapAsync(peers: ["cluster2"]);

        Assert.Equal(["admin-cluster1", "local-cluster1", "remote-cluster2", "root"], (await _admin.UserListAsync()).Order(StringComparer.Ordinal));
        Assert.Equal(["root"], await _admin.UserGetRolesAsync("admin-cluster1"));
        Assert.Equal(["remote"], await _admin.UserGetRolesAsync("remote-cluster2"));
        Assert.Equal(["local"], await _admin.UserGetRolesAsync("local-cluster1"));
        // Auth is on: a certificate of the same CA whose CN is no etcd user gets nothing.
        var stranger = Client("stranger");
        await Assert.ThrowsAnyAsync<EtcdException>(() => stranger.GetAsync("cilium/.heartbeat"));
        await _admin.PutAsync("cilium/state/nodes/v1/cluster1/node2", "v");
    }

    [Fact]
    public async Task Peer_removed_from_the_config_loses_its_etcd_user()
    {
        await BootstrapAsync(peers: ["cluster2", "cluster3"]);
        var cluster3 = Client(EtcdAccessPlan.RemoteUser("cluster3"));
        Assert.NotNull(await cluster3.GetAsync("cilium/.heartbeat"));

        await BootstrapAsync(peers: ["cluster2"]);

        Assert.DoesNotContain("remote-cluster3", await _admin.UserListAsync());
        await Assert.ThrowsAnyAsync<EtcdException>(() => cluster3.GetAsync("cilium/.heartbeat"));
        Assert.NotNull(await Client(EtcdAccessPlan.RemoteUser("cluster2")).GetAsync("cilium/.heartbeat"));
    }

    [Fact]
    public async Task Peer_user_granted_an_extra_role_loses_it_at_the_next_start_and_keeps_reading_with_its_certificate()
    {
        await BootstrapAsync(peers: ["cluster2"]);
        await _admin.UserGrantRoleAsync("remote-cluster2", "root");
        var remote = Client(EtcdAccessPlan.RemoteUser("cluster2"));
        await remote.PutAsync("cilium/state/escalated", "v");

        var logs = await BootstrapAsync(peers: ["cluster2"]);

        Assert.Equal(["remote"], await _admin.UserGetRolesAsync("remote-cluster2"));
        await AssertCannotWriteAsync(remote);
        // The certificate it held before the revoke still reads what its role allows.
        Assert.Equal(3, (await remote.ListPrefixAsync("cilium/state/")).Kvs.Count);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("revoked etcd role root from user remote-cluster2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Permissions_added_by_hand_to_the_remote_role_are_revoked_at_the_next_start()
    {
        await BootstrapAsync(peers: ["cluster2"]);
        await _admin.RoleGrantPrefixPermissionAsync(EtcdAccessPlan.RemoteRole, "other/", Permission.Types.Type.Read);
        await _admin.RoleGrantKeyPermissionAsync(EtcdAccessPlan.RemoteRole, "cilium/cache/nodes/v1/cluster3/node9", Permission.Types.Type.Read);
        // Same range as the plan's, wider type: must come back to read-only.
        await _admin.RoleGrantPrefixPermissionAsync(EtcdAccessPlan.RemoteRole, "cilium/state/", Permission.Types.Type.Readwrite);
        var remote = Client(EtcdAccessPlan.RemoteUser("cluster2"));
        Assert.NotNull(await remote.GetAsync("other/key"));
        await remote.PutAsync("cilium/state/escalated", "v");

        var logs = await BootstrapAsync(peers: ["cluster2"]);

        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.GetAsync("other/key"));
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.GetAsync("cilium/cache/nodes/v1/cluster3/node9"));
        await AssertCannotWriteAsync(remote);
        Assert.Equal(3, (await remote.ListPrefixAsync("cilium/state/")).Kvs.Count);
        Assert.Equal(
            [("cilium/.heartbeat", ""), ("cilium/cluster-config/cluster1", ""), ("cilium/state/", "cilium/state0"), ("cilium/synced/cluster1/", "cilium/synced/cluster10")],
            (await _admin.RoleGetAsync(EtcdAccessPlan.RemoteRole)).Select(p => (p.Key.ToStringUtf8(), p.RangeEnd.ToStringUtf8())).Order());
        Assert.All(await _admin.RoleGetAsync(EtcdAccessPlan.RemoteRole), p => Assert.Equal(Permission.Types.Type.Read, p.PermType));
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("revoked Read on prefix 'other/' from etcd role remote", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("revoked Read on key 'cilium/cache/nodes/v1/cluster3/node9' from etcd role remote", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.Contains("granted etcd role remote read on prefix 'cilium/state/'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_second_start_with_nothing_changed_grants_and_revokes_nothing()
    {
        var first = await BootstrapAsync(peers: ["cluster2"]);
        Assert.Contains(first.Lines, l => l.Contains("granted etcd role local read on prefix 'cilium/cache/'", StringComparison.Ordinal));

        var second = await BootstrapAsync(peers: ["cluster2"]);

        Assert.DoesNotContain(second.Lines, l => l.Contains("granted", StringComparison.Ordinal) || l.Contains("revoked", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Unreachable_etcd_fails_the_start_after_the_retry_deadline_naming_the_step()
    {
        var port = LoopbackPorts.Pick(1)[0];
        var options = Options([]);
        options.EtcdEndpoints = [new Uri($"https://127.0.0.1:{port}")];
        await using var unreachable = EtcdClient.Create(new EtcdClientOptions
        {
            Endpoints = [.. options.EtcdEndpoints],
            CaFile = options.EtcdCaFile,
            CertFile = options.EtcdCertFile,
            KeyFile = options.EtcdKeyFile,
            DialTimeout = TimeSpan.FromMilliseconds(500),
        });
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var bootstrap = new EtcdAccessBootstrap(
            unreachable, options, new EtcdAccessBootstrapOptions { RetryDeadline = TimeSpan.FromSeconds(2), FirstRetryDelay = TimeSpan.FromMilliseconds(50) }, TimeProvider.System, factory.CreateLogger<EtcdAccessBootstrap>());

        var error = await Assert.ThrowsAsync<EtcdAccessBootstrapException>(() => bootstrap.StartAsync(CancellationToken.None));

        Assert.Contains("not in place after 2s", error.Message, StringComparison.Ordinal);
        Assert.Contains("adding etcd role 'root' failed", error.Message, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.Contains("not yet in place (attempt 1", StringComparison.Ordinal));
        Assert.Contains(logs.Lines, l => l.StartsWith("Critical", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Certificate_that_is_not_an_admin_fails_the_start_at_once_naming_the_user_or_role()
    {
        await BootstrapAsync(peers: ["cluster2"]);
        var remote = Client(EtcdAccessPlan.RemoteUser("cluster2"));
        var bootstrap = new EtcdAccessBootstrap(remote, Options(["cluster2"]), new EtcdAccessBootstrapOptions(), TimeProvider.System, NullLogger<EtcdAccessBootstrap>.Instance);

        var error = await Assert.ThrowsAsync<EtcdAccessBootstrapException>(() => bootstrap.StartAsync(CancellationToken.None));

        Assert.IsType<EtcdPermissionDeniedException>(error.InnerException);
        Assert.Contains("etcd role 'root'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_mtls_access_control_is_skipped_with_a_warning_and_etcd_stays_open()
    {
        await using var plain = await EtcdServer.StartAsync();
        await using var client = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. plain.ClientEndpoints] });
        var options = new ApiServerOptions { ClusterName = Cluster, ClusterId = 1, EtcdEndpoints = [.. plain.ClientEndpoints], PeerClusters = ["cluster2"] };
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));

        await new EtcdAccessBootstrap(client, options, new EtcdAccessBootstrapOptions(), TimeProvider.System, factory.CreateLogger<EtcdAccessBootstrap>())
            .StartAsync(CancellationToken.None);

        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("etcd access control is OFF", StringComparison.Ordinal) && l.Contains("--etcd-cert-file", StringComparison.Ordinal));
        Assert.Empty(await client.UserListAsync());
        await client.PutAsync("anyone/may/write", "v");
    }

    private async Task<ListLoggerProvider> BootstrapAsync(IList<string> peers)
    {
        var logs = new ListLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        var bootstrap = new EtcdAccessBootstrap(_admin, Options(peers), new EtcdAccessBootstrapOptions(), TimeProvider.System, factory.CreateLogger<EtcdAccessBootstrap>());
        await bootstrap.StartAsync(CancellationToken.None);
        return logs;
    }

    private ApiServerOptions Options(IList<string> peers)
    {
        var (certFile, keyFile, _) = _etcd.Certificates!.CreateClient(EtcdAccessPlan.AdminUser(Cluster));
        return new ApiServerOptions
        {
            ClusterName = Cluster,
            ClusterId = 1,
            EtcdEndpoints = [.. _etcd.ClientEndpoints],
            EtcdCaFile = _etcd.Certificates.CaFile,
            EtcdCertFile = certFile,
            EtcdKeyFile = keyFile,
            PeerClusters = peers,
        };
    }

    private IEtcdClient Client(string user)
    {
        var (certFile, keyFile, _) = _etcd.Certificates!.CreateClient(user);
        var client = EtcdClient.Create(new EtcdClientOptions
        {
            Endpoints = [.. _etcd.ClientEndpoints],
            CaFile = _etcd.Certificates.CaFile,
            CertFile = certFile,
            KeyFile = keyFile,
        });
        _clients.Add(client);
        return client;
    }

    private static async Task AssertCannotWriteAsync(IEtcdClient client)
    {
        foreach (var key in new[] { "cilium/state/nodes/v1/cluster1/node1", "cilium/.heartbeat", "cilium/cache/x", "cilium/new", "other/key" })
        {
            await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => client.PutAsync(key, "w"));
            await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => client.DeleteAsync(key));
        }
    }
}
