using Federation.Etcd.Protocol;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

/// <summary>mTLS and etcd's own auth, on a TLS server with client-certificate authentication.</summary>
[Trait("Needs", "etcd")]
public sealed class EtcdAuthTests : IAsyncLifetime
{
    private EtcdServer _server = null!;

    public async Task InitializeAsync() => _server = await EtcdServer.StartAsync(new EtcdServerOptions { Tls = true });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private EtcdClient ClientAs(string commonName, Action<EtcdClientOptions>? configure = null)
    {
        var (certFile, keyFile, _) = _server.Certificates!.CreateClient(commonName);
        return Clients.For(_server, o =>
        {
            o.CaFile = _server.Certificates.CaFile;
            o.CertFile = certFile;
            o.KeyFile = keyFile;
            configure?.Invoke(o);
        });
    }

    [Fact]
    public async Task A_client_certificate_signed_by_the_ca_is_accepted()
    {
        await using var client = ClientAs("root");

        await client.PutAsync("tls/k", "v");
        Assert.Equal("v", (await client.GetAsync("tls/k"))!.Value.ToStringUtf8());
    }

    [Fact]
    public async Task Without_a_client_certificate_the_connection_is_refused()
    {
        await using var client = Clients.For(_server, o => o.CaFile = _server.Certificates!.CaFile);

        await Assert.ThrowsAsync<EtcdUnavailableException>(() => client.GetAsync("tls/k"));
    }

    [Fact]
    public async Task A_server_certificate_from_another_ca_is_rejected()
    {
        var otherDirectory = Directory.CreateTempSubdirectory("other-ca").FullName;
        try
        {
            using var otherCa = TestCertificates.Create(otherDirectory);
            var (certFile, keyFile, _) = _server.Certificates!.CreateClient("root");
            await using var client = Clients.For(_server, o =>
            {
                o.CaFile = otherCa.CaFile;
                o.CertFile = certFile;
                o.KeyFile = keyFile;
            });

            await Assert.ThrowsAsync<EtcdUnavailableException>(() => client.GetAsync("tls/k"));
        }
        finally
        {
            Directory.Delete(otherDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task A_read_only_user_can_read_and_watch_its_prefix_but_not_write()
    {
        await using var root = ClientAs("root");
        await root.PutAsync("cilium/state/nodes/v1/c1/n1", "node");
        await root.UserAddAsync("root", password: null);
        await root.RoleAddAsync("root");
        await root.UserGrantRoleAsync("root", "root");
        await root.RoleAddAsync("remote-reader");
        await root.RoleGrantPrefixPermissionAsync("remote-reader", "cilium/", Permission.Types.Type.Read);
        await root.UserAddAsync("remote", password: null);
        await root.UserGrantRoleAsync("remote", "remote-reader");
        await root.AuthEnableAsync();

        Assert.Equal(["remote-reader"], await root.UserGetRolesAsync("remote"));

        // The certificate's CN is the etcd user.
        await using var reader = ClientAs("remote");
        Assert.Equal("node", (await reader.GetAsync("cilium/state/nodes/v1/c1/n1"))!.Value.ToStringUtf8());

        var denied = await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => reader.PutAsync("cilium/state/nodes/v1/c1/n2", "x"));
        Assert.Equal(GrpcStatusCode.PermissionDenied, denied.Status);
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => reader.GetAsync("other/key"));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(async () =>
        {
            await foreach (var unused in reader.WatchPrefixAsync("other/", cancellationToken: cts.Token))
            {
            }
        });

        // Watched from the put's revision: a watch from "now" can be registered after the put and miss it.
        var put = await root.PutAsync("cilium/state/nodes/v1/c1/n3", "node3");
        var watch = reader.WatchPrefixAsync("cilium/state/nodes/v1/", put.Header.Revision, cancellationToken: cts.Token).GetAsyncEnumerator(cts.Token);
        var next = watch.MoveNextAsync().AsTask();
        while (await next)
        {
            if (watch.Current.Events.Count > 0)
            {
                Assert.Equal("node3", watch.Current.Events[0].Kv.Value.ToStringUtf8());
                break;
            }

            next = watch.MoveNextAsync().AsTask();
        }

        await watch.DisposeAsync();
        await root.AuthDisableAsync();
    }

    [Fact]
    public async Task Password_authentication_gets_a_token_and_a_wrong_password_is_refused()
    {
        await using var root = ClientAs("root");
        await root.UserAddAsync("root", password: null);
        await root.RoleAddAsync("root");
        await root.UserGrantRoleAsync("root", "root");
        await root.RoleAddAsync("writer");
        await root.RoleGrantPrefixPermissionAsync("writer", "app/", Permission.Types.Type.Readwrite);
        await root.UserAddAsync("app", "s3cret");
        await root.UserGrantRoleAsync("app", "writer");
        await root.AuthEnableAsync();

        // A certificate whose CN is no user, plus a password: the token decides.
        await using var app = ClientAs("nobody", o =>
        {
            o.Username = "app";
            o.Password = "s3cret";
        });
        await app.PutAsync("app/k", "v");
        Assert.Equal("v", (await app.GetAsync("app/k"))!.Value.ToStringUtf8());
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => app.PutAsync("cilium/x", "v"));

        await using var wrong = ClientAs("nobody", o =>
        {
            o.Username = "app";
            o.Password = "wrong";
        });
        var error = await Assert.ThrowsAnyAsync<EtcdException>(() => wrong.GetAsync("app/k"));
        Assert.Contains("authentication failed", error.Detail);

        await root.AuthDisableAsync();
    }

    [Fact]
    public async Task The_canary_waits_for_a_key_that_keeps_failing_and_follows_once_it_is_given_up()
    {
        await using var root = ClientAs("root");
        await root.UserAddAsync("root", password: null);
        await root.RoleAddAsync("root");
        await root.UserGrantRoleAsync("root", "root");
        await root.RoleAddAsync("exporter");
        await root.RoleGrantPrefixPermissionAsync("exporter", "allowed/", Permission.Types.Type.Readwrite);
        await root.RoleGrantPrefixPermissionAsync("exporter", "cilium/synced/", Permission.Types.Type.Readwrite);
        await root.UserAddAsync("exporter", password: null);
        await root.UserGrantRoleAsync("exporter", "exporter");
        await root.AuthEnableAsync();

        await using var exporter = ClientAs("exporter");
        const string Canary = "cilium/synced/c1/allowed";
        await using var store = new Store.SyncStore(exporter, new Store.SyncStoreOptions
        {
            Name = "denied",
            SyncedCanaryKey = Canary,
            RetryMinDelay = TimeSpan.FromMilliseconds(20),
            RetryMaxDelay = TimeSpan.FromMilliseconds(100),
        });
        await store.StartAsync(CancellationToken.None);
        store.Upsert("allowed/a", "1"u8);
        store.Upsert("denied/b", "1"u8);
        store.MarkInitialSyncDone();

        await Eventually.TrueAsync(async () => await root.GetAsync("allowed/a") is not null && store.GetStatus().Errors >= 5, TimeSpan.FromSeconds(30), "the allowed write and repeated denials");

        // Other keys keep completing while the denied one waits for its retries: none of them may
        // be taken for the end of the initial sync.
        for (var i = 0; i < 30; i++)
        {
            store.Upsert($"allowed/more-{i}", "1"u8);
            await Eventually.TrueAsync(async () => await root.GetAsync($"allowed/more-{i}") is not null, TimeSpan.FromSeconds(10), $"allowed/more-{i}");
        }

        Assert.Contains("permission denied", store.GetStatus().LastError);
        Assert.Null(await root.GetAsync(Canary));
        Assert.False(store.Synced.IsCompleted);

        store.Delete("denied/b");
        await Eventually.WithinAsync(store.Synced, TimeSpan.FromSeconds(30), "the canary once the failing key is no longer wanted");
        Assert.NotNull(await root.GetAsync(Canary));
        await root.AuthDisableAsync();
    }

    [Fact]
    public async Task Users_and_roles_can_be_listed_and_removed()
    {
        await using var root = ClientAs("root");
        await root.RoleAddAsync("reader");
        await root.UserAddAsync("remote-c2", password: null);
        await root.UserAddAsync("remote-c3", password: null);
        await root.UserGrantRoleAsync("remote-c3", "reader");

        Assert.Equal(["remote-c2", "remote-c3"], (await root.UserListAsync()).Order(StringComparer.Ordinal));

        await root.UserDeleteAsync("remote-c2");
        await root.RoleDeleteAsync("reader");

        Assert.Equal(["remote-c3"], await root.UserListAsync());
        Assert.Empty(await root.UserGetRolesAsync("remote-c3"));
        var missing = await Assert.ThrowsAnyAsync<EtcdException>(() => root.UserDeleteAsync("remote-c2"));
        Assert.Contains("user name not found", missing.Detail);
    }

    [Fact]
    public async Task Role_get_lists_the_granted_permissions_and_a_revoked_one_is_gone()
    {
        await using var root = ClientAs("root");
        await root.RoleAddAsync("reader");
        await root.RoleGrantPrefixPermissionAsync("reader", "cilium/state/", Permission.Types.Type.Read);
        await root.RoleGrantKeyPermissionAsync("reader", "cilium/.heartbeat", Permission.Types.Type.Read);
        await root.RoleGrantPrefixPermissionAsync("reader", "other/", Permission.Types.Type.Readwrite);

        var granted = await root.RoleGetAsync("reader");

        Assert.Equal(
            [("cilium/.heartbeat", "", Permission.Types.Type.Read), ("cilium/state/", "cilium/state0", Permission.Types.Type.Read), ("other/", "other0", Permission.Types.Type.Readwrite)],
            granted.Select(p => (p.Key.ToStringUtf8(), p.RangeEnd.ToStringUtf8(), p.PermType)).Order());

        var other = granted.Single(p => p.Key.ToStringUtf8() == "other/");
        await root.RoleRevokePermissionAsync("reader", other.Key, other.RangeEnd);

        Assert.Equal(["cilium/.heartbeat", "cilium/state/"], (await root.RoleGetAsync("reader")).Select(p => p.Key.ToStringUtf8()).Order(StringComparer.Ordinal));
        var again = await Assert.ThrowsAnyAsync<EtcdException>(() => root.RoleRevokePermissionAsync("reader", other.Key, other.RangeEnd));
        Assert.Contains("permission is not granted", again.Detail);
        var missing = await Assert.ThrowsAnyAsync<EtcdException>(() => root.RoleGetAsync("no-such-role"));
        Assert.Contains("role name not found", missing.Detail);
    }

    [Fact]
    public async Task Revoking_a_role_takes_its_access_away_and_the_user_keeps_its_other_roles()
    {
        await using var root = ClientAs("root");
        await root.PutAsync("cilium/state/k", "v");
        await root.UserAddAsync("root", password: null);
        await root.RoleAddAsync("root");
        await root.UserGrantRoleAsync("root", "root");
        await root.RoleAddAsync("reader");
        await root.RoleGrantPrefixPermissionAsync("reader", "cilium/state/", Permission.Types.Type.Read);
        await root.RoleAddAsync("writer");
        await root.RoleGrantPrefixPermissionAsync("writer", "cilium/state/", Permission.Types.Type.Readwrite);
        await root.UserAddAsync("remote", password: null);
        await root.UserGrantRoleAsync("remote", "reader");
        await root.UserGrantRoleAsync("remote", "writer");
        await root.AuthEnableAsync();
        await using var remote = ClientAs("remote");
        await remote.PutAsync("cilium/state/k", "w");

        await root.UserRevokeRoleAsync("remote", "writer");

        Assert.Equal(["reader"], await root.UserGetRolesAsync("remote"));
        Assert.Equal("w", (await remote.GetAsync("cilium/state/k"))!.Value.ToStringUtf8());
        await Assert.ThrowsAsync<EtcdPermissionDeniedException>(() => remote.PutAsync("cilium/state/k", "x"));
        var again = await Assert.ThrowsAnyAsync<EtcdException>(() => root.UserRevokeRoleAsync("remote", "writer"));
        Assert.Contains("role is not granted to the user", again.Detail);
        await root.AuthDisableAsync();
    }
}
