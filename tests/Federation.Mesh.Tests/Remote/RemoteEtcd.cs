using System.Collections.Immutable;
using System.Globalization;
using System.Text;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Tests.Infrastructure;

namespace Federation.Mesh.Tests.Remote;

/// <summary>
/// A remote cluster for tests: its own real etcd, filled in ClusterMesh's format through a plain
/// client, with a heartbeat rewritten a few times per (test) heartbeat interval.
/// </summary>
internal sealed class RemoteEtcd : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _heartbeat;

    private RemoteEtcd(string name, uint id, EtcdServer server, EtcdClient client, (string Cert, string Key)? clientCert)
    {
        Name = name;
        Id = id;
        Server = server;
        Client = client;
        ClientCertificate = clientCert;
    }

    public string Name { get; }

    /// <summary>While set, the heartbeat stands still (as when the remote's apiserver is gone but etcd is up).</summary>
    public bool HeartbeatPaused { get; set; }

    public uint Id { get; private set; }

    public EtcdServer Server { get; }

    /// <summary>A root client that writes the remote's data.</summary>
    public EtcdClient Client { get; }

    /// <summary>The certificate a reader presents (TLS mode only).</summary>
    public (string Cert, string Key)? ClientCertificate { get; }

    public static async Task<RemoteEtcd> StartAsync(string name, uint id, bool tls = false, bool syncedCanaries = true, bool writeClusterConfig = true)
    {
        var server = await EtcdServer.StartAsync(new EtcdServerOptions { Tls = tls });
        (string, string)? reader = null;
        var options = new EtcdClientOptions
        {
            Endpoints = [.. server.ClientEndpoints],
            DialTimeout = TimeSpan.FromSeconds(2),
            RequestTimeout = TimeSpan.FromSeconds(10),
            ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
        };
        if (server.Certificates is { } certificates)
        {
            var root = certificates.CreateClient("root");
            var remote = certificates.CreateClient("remote-" + name);
            options.CaFile = certificates.CaFile;
            options.CertFile = root.CertFile;
            options.KeyFile = root.KeyFile;
            reader = (remote.CertFile, remote.KeyFile);
        }

        var etcd = new RemoteEtcd(name, id, server, EtcdClient.Create(options), reader);
        if (writeClusterConfig)
        {
            await etcd.PutClusterConfigAsync(id, syncedCanaries: syncedCanaries);
        }

        await etcd.Client.PutAsync(ClusterMeshKeys.Heartbeat, ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        etcd._heartbeat = etcd.BeatAsync(etcd._stop.Token);
        return etcd;
    }

    public async Task PutClusterConfigAsync(uint id, bool syncedCanaries = true, bool cached = false, string? clusterName = null, uint maxConnectedClusters = 255)
    {
        Id = id;
        var config = new CiliumClusterConfig
        {
            Id = id,
            Capabilities = new ClusterCapabilities { SyncedCanaries = syncedCanaries, Cached = cached, MaxConnectedClusters = maxConnectedClusters },
        };
        await Client.PutAsync(ClusterMeshKeys.ClusterConfig(clusterName ?? Name), ClusterMeshJson.Serialize(config));
    }

    public async Task PutCanariesAsync(bool cached = false, string? clusterName = null)
    {
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            var key = cached ? ClusterMeshKeys.CacheSyncedCanary(kind, clusterName ?? Name) : ClusterMeshKeys.StateSyncedCanary(kind, clusterName ?? Name);
            await Client.PutAsync(key, ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        }
    }

    public static ClusterService Service(string cluster, uint clusterId, string name, string backend = "10.244.1.5") => new()
    {
        Cluster = cluster,
        Namespace = "default",
        Name = name,
        Frontends = PortMap("10.96.0.10", 80),
        Backends = PortMap(backend, 8080),
        Labels = ImmutableDictionary<string, string>.Empty,
        Selector = ImmutableDictionary<string, string>.Empty.Add("app", name),
        IncludeExternal = true,
        Shared = true,
        ClusterId = clusterId,
    };

    public static Node Node(string cluster, uint clusterId, string name) => new()
    {
        Name = name,
        Cluster = cluster,
        ClusterId = clusterId,
        IPAddresses = [new NodeAddress { Type = "InternalIP", IP = "192.168.10.1" }],
        IPv4AllocCidr = NodeCidr.Create("10.244.1.0", 24),
    };

    public static IdentityLabels Labels(string cluster, string app) => IdentityLabels.Create(
    [
        new IdentityLabel("k8s", "app", app),
        new IdentityLabel("k8s", IdentityLabels.ClusterLabelKey, cluster),
        new IdentityLabel("k8s", "io.kubernetes.pod.namespace", "default"),
    ]);

    private static ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>> PortMap(string ip, ushort port) =>
        ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty.Add(
            ip, ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = port }));

    /// <summary>The first identity this cluster may allocate, plus <paramref name="offset"/>.</summary>
    public uint IdentityNumber(uint offset = 0) => ClusterIdentity.GetIdentityRange(Id).First + offset;

    public async Task<string> PutServiceAsync(string name, string backend = "10.244.1.5")
    {
        var key = ClusterMeshKeys.Service(Name, "default", name);
        await Client.PutAsync(key, ClusterMeshJson.Serialize(Service(Name, Id, name, backend)));
        return key;
    }

    public async Task<string> PutNodeAsync(string name)
    {
        var key = ClusterMeshKeys.Node(Name, name);
        await Client.PutAsync(key, ClusterMeshJson.Serialize(Node(Name, Id, name)));
        return key;
    }

    public async Task<string> PutIdentityAsync(uint id, string app = "web")
    {
        var key = ClusterMeshKeys.Identity(id);
        await Client.PutAsync(key, ClusterMeshJson.Serialize(Labels(Name, app)));
        return key;
    }

    public async Task<string> PutIpAsync(string ip, uint identity)
    {
        var key = ClusterMeshKeys.Ip(ip);
        var pair = new IPIdentityPair { IP = ip, Id = identity, HostIP = "192.168.10.1", K8sNamespace = "default", K8sPodName = "web-" + ip };
        await Client.PutAsync(key, ClusterMeshJson.Serialize(pair));
        return key;
    }

    /// <summary>One entry of each kind; returns their keys.</summary>
    public async Task<IReadOnlyList<string>> PutOneOfEachAsync()
        => [await PutNodeAsync("node-1"), await PutServiceAsync("web"), await PutIdentityAsync(IdentityNumber(1)), await PutIpAsync("10.244.1.5", IdentityNumber(1))];

    /// <summary>What the remote holds now under the prefixes a reader of the state layout watches: key → bytes.</summary>
    public async Task<IReadOnlyDictionary<string, byte[]>> StateAsync()
    {
        var state = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            var listing = await Client.ListPrefixAsync(ClusterMeshKeys.RemoteWatchPrefix(kind, Name, remoteCached: false));
            foreach (var kv in listing.Kvs)
            {
                state[kv.Key.ToStringUtf8()] = kv.Value.ToByteArray();
            }
        }

        return state;
    }

    /// <summary>Writes the config file a reader needs into <paramref name="directory"/> (certificates next to it, as Cilium mounts them).</summary>
    public void WriteConfigFile(string directory, IReadOnlyList<Uri>? endpoints = null, string? fileName = null)
    {
        var text = new StringBuilder();
        text.Append("endpoints:\n");
        foreach (var endpoint in endpoints ?? Server.ClientEndpoints)
        {
            text.Append(CultureInfo.InvariantCulture, $"- {endpoint}\n");
        }

        if (Server.Certificates is { } certificates && ClientCertificate is { } reader)
        {
            // Relative paths: resolved against the config directory.
            File.Copy(certificates.CaFile, Path.Combine(directory, $"{Name}.etcd-client-ca.crt"), overwrite: true);
            File.Copy(reader.Cert, Path.Combine(directory, $"{Name}.etcd-client.crt"), overwrite: true);
            File.Copy(reader.Key, Path.Combine(directory, $"{Name}.etcd-client.key"), overwrite: true);
            text.Append(CultureInfo.InvariantCulture, $"trusted-ca-file: {Name}.etcd-client-ca.crt\n");
            text.Append(CultureInfo.InvariantCulture, $"cert-file: {Name}.etcd-client.crt\n");
            text.Append(CultureInfo.InvariantCulture, $"key-file: {Name}.etcd-client.key\n");
        }

        File.WriteAllText(Path.Combine(directory, fileName ?? Name), text.ToString());
    }

    /// <summary>Issues a new reader certificate and writes it over the one in <paramref name="directory"/> (a rotation).</summary>
    public void RotateReaderCertificate(string directory)
    {
        var reader = Server.Certificates!.CreateClient("remote-" + Name);
        File.Copy(reader.CertFile, Path.Combine(directory, $"{Name}.etcd-client.crt"), overwrite: true);
        File.Copy(reader.KeyFile, Path.Combine(directory, $"{Name}.etcd-client.key"), overwrite: true);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_heartbeat is not null)
        {
            await _heartbeat;
        }

        await Client.DisposeAsync();
        await Server.DisposeAsync();
        _stop.Dispose();
    }

    // The apiserver's heartbeat, at test speed (RemoteClusterTestBase.HeartbeatInterval / 4). Failures while
    // the test has the server stopped are expected and ignored.
    private async Task BeatAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RemoteClusterTestBase.HeartbeatInterval / 4);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (HeartbeatPaused)
                {
                    continue;
                }

                try
                {
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    timeout.CancelAfter(TimeSpan.FromSeconds(1));
                    await Client.PutAsync(ClusterMeshKeys.Heartbeat, ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow), cancellationToken: timeout.Token);
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
