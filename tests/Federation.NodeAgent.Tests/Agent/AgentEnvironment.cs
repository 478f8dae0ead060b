using System.Collections.Immutable;
using System.Net;
using System.Text;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Sync;
using Federation.NodeAgent.Tests.Datapath;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using KubeClient = Federation.Kubernetes.Client.KubernetesClient;

namespace Federation.NodeAgent.Tests.Agent;

/// <summary>
/// One node of cluster1 for the agent's tests: a real etcd behind the lab API server (mTLS, kubeconfig), a
/// throwaway cgroup for clients, a throwaway bpffs root, a clustermesh config directory, and the agents a test
/// starts in-process. Everything (agents, pins, cgroup, processes, etcds, files) is removed on dispose.
/// </summary>
internal sealed class AgentEnvironment : IAsyncDisposable
{
    public const string ClusterName = "cluster1";
    public const uint ClusterId = 1;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);

    private static int _nextNet = Random.Shared.Next(0, 200);

    private readonly List<AgentHost> _agents = [];
    private readonly List<IDisposable> _owned = [];
    private readonly List<IAsyncDisposable> _ownedAsync = [];
    private LabCertificateAuthority? _ca;

    private AgentEnvironment()
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        NodeName = $"agent-{id}";
        BpfFsRoot = $"/sys/fs/bpf/federation-test-{id}";
        var net = Interlocked.Increment(ref _nextNet) % 200;
        // Loopback nets of this environment: 127.(10+net).x.y for backends, 127.96.(10+net).0/24 for service IPs (inside the lab VIP block).
        BackendNet = (byte)(10 + net);
    }

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("federation-agent-tests-").FullName;

    public string NodeName { get; }

    public string BpfFsRoot { get; }

    public byte BackendNet { get; }

    public string ClusterMeshConfig => Path.Combine(Directory, "clustermesh");

    public string StateDirectory => Path.Combine(Directory, "state");

    public string KubeconfigPath => Path.Combine(Directory, "kubeconfig");

    public TestCgroup Cgroup { get; private set; } = null!;

    public EtcdServer KubernetesEtcd { get; private set; } = null!;

    public LabApiServerHost Lab { get; private set; } = null!;

    public IKubernetesClient Kubernetes { get; private set; } = null!;

    public static async Task<AgentEnvironment> StartAsync()
    {
        var env = new AgentEnvironment();
        try
        {
            await env.InitializeAsync();
            return env;
        }
        catch
        {
            await env.DisposeAsync();
            throw;
        }
    }

    private async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(ClusterMeshConfig);
        Cgroup = TestCgroup.Create();
        KubernetesEtcd = await EtcdServer.StartAsync();
        _ca = LabCertificateAuthority.Create();
        var caFile = Path.Combine(Directory, "ca.crt");
        File.WriteAllText(caFile, _ca.CertificatePem);
        _ca.IssueServer("lab-apiserver", [IPAddress.Loopback]).Write(Path.Combine(Directory, "apiserver.crt"), Path.Combine(Directory, "apiserver.key"));
        Lab = await LabApiServerHost.StartAsync(
            new LabApiServerOptions
            {
                EtcdEndpoints = [.. KubernetesEtcd.ClientEndpoints],
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                TlsCertFile = Path.Combine(Directory, "apiserver.crt"),
                TlsPrivateKeyFile = Path.Combine(Directory, "apiserver.key"),
                ClientCaFile = caFile,
                ServiceClusterIpRange = $"127.96.{BackendNet}.0/24",
                ClusterName = ClusterName,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        var admin = _ca.IssueClient("node-agent", ["system:masters"]);
        KubeconfigWriter.WriteFile(KubeconfigPath, new Kubeconfig
        {
            Clusters = [new KubeconfigCluster { Name = ClusterName, Server = Lab.BaseUri.GetLeftPart(UriPartial.Authority), CertificateAuthorityData = Encoding.UTF8.GetBytes(_ca.CertificatePem) }],
            Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.UTF8.GetBytes(admin.CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(admin.PrivateKeyPem) }],
            Contexts = [new KubeconfigContext { Name = ClusterName, Cluster = ClusterName, User = "admin", Namespace = "default" }],
            CurrentContext = ClusterName,
        });
        Kubernetes = KubeClient.Create(KubernetesClientConfiguration.FromKubeconfig(ClusterName, KubeconfigPath));
    }

    /// <summary>The flags of this node's agent (health on a free loopback port); adjust and start.</summary>
    public AgentOptions Options() => new()
    {
        NodeName = NodeName,
        ClusterName = ClusterName,
        ClusterId = ClusterId,
        Kubeconfig = KubeconfigPath,
        KubeContext = ClusterName,
        ClusterMeshConfig = ClusterMeshConfig,
        RemoteSource = RemoteSourceKind.Direct,
        CgroupPath = Cgroup.Path,
        BpfFsRoot = BpfFsRoot,
        StateDirectory = StateDirectory,
        HealthListen = new IPEndPoint(IPAddress.Loopback, 0),
        SyncTimeout = TimeSpan.FromSeconds(60),
    };

    public async Task<AgentHost> StartAgentAsync(AgentOptions? options = null)
    {
        var agent = await AgentHost.StartAsync(options ?? Options(), logging => logging.SetMinimumLevel(LogLevel.Warning));
        _agents.Add(agent);
        return agent;
    }

    /// <summary>Stops an agent as a restart would: the datapath stays pinned and attached.</summary>
    public async Task StopAgentAsync(AgentHost agent)
    {
        if (_agents.Remove(agent))
        {
            await agent.DisposeAsync();
        }
    }

    /// <summary>A TCP backend on 127.net.<paramref name="group"/>.<paramref name="host"/>, answering with its name.</summary>
    public TcpBackend Backend(string name, byte group, byte host, int port, ushort clusterId = 1)
        => Own(new TcpBackend(name, new IPAddress([127, BackendNet, group, host]), clusterId, port));

    /// <summary>A port free on 127.net.0.1 (the port every backend of a test then uses, as EndpointSlices share ports).</summary>
    public int FreePort()
    {
        using var probe = new System.Net.Sockets.TcpListener(new IPAddress([127, BackendNet, 0, 1]), 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public T Own<T>(T disposable)
        where T : IDisposable
    {
        _owned.Add(disposable);
        return disposable;
    }

    /// <summary>Creates or replaces a ClusterIP Service (no selector: the test writes its EndpointSlices) with port http 80/TCP.</summary>
    public async Task<Service> ApplyServiceAsync(string name, IReadOnlyDictionary<string, string>? annotations = null)
    {
        var service = new Service
        {
            Metadata = new ObjectMeta { Name = name, Namespace = "default", Annotations = annotations ?? new Dictionary<string, string>() },
            Spec = new ServiceSpec { Type = "ClusterIP", Ports = [new ServicePort { Name = "http", Protocol = "TCP", Port = 80 }] },
        };
        try
        {
            var current = await Kubernetes.GetAsync<Service>("default", name);
            return await Kubernetes.UpdateAsync(current with
            {
                Metadata = current.Metadata with { Annotations = service.Metadata.Annotations },
            });
        }
        catch (KubernetesNotFoundException)
        {
            return await Kubernetes.CreateAsync(service);
        }
    }

    /// <summary>Creates or replaces the EndpointSlice <c>NAME-1</c> of a Service: one endpoint per backend, port http.</summary>
    public async Task ApplySliceAsync(string service, int port, params (TcpBackend Backend, bool Ready)[] endpoints)
    {
        var slice = new EndpointSlice
        {
            Metadata = new ObjectMeta
            {
                Name = $"{service}-1",
                Namespace = "default",
                Labels = new Dictionary<string, string> { [Services.LocalServiceBuilder.ServiceNameLabel] = service },
            },
            AddressType = "IPv4",
            Ports = [new EndpointPort { Name = "http", Protocol = "TCP", Port = port }],
            Endpoints =
            [
                .. endpoints.Select(e => new Endpoint
                {
                    Addresses = [e.Backend.EndPoint.Address.ToString()],
                    Conditions = new EndpointConditions { Ready = e.Ready, Serving = e.Ready, Terminating = false },
                }),
            ],
        };
        try
        {
            var current = await Kubernetes.GetAsync<EndpointSlice>("default", slice.Metadata.Name);
            await Kubernetes.UpdateAsync(slice with { Metadata = slice.Metadata with { ResourceVersion = current.Metadata.ResourceVersion } });
        }
        catch (KubernetesNotFoundException)
        {
            await Kubernetes.CreateAsync(slice);
        }
    }

    /// <summary>Waits until the agent programmed <paramref name="service"/> with exactly these backend addresses (none: not programmed at all when null).</summary>
    public static async Task WaitForBackendsAsync(AgentHost agent, string service, IEnumerable<TcpBackend>? backends, string what)
    {
        var state = agent.Services.GetRequiredService<AgentState>();
        var expected = backends?.Select(b => b.EndPoint.ToString()).Order(StringComparer.Ordinal).ToList();
        await Eventually.TrueAsync(
            () =>
            {
                var programmed = state.Programmed.Services.FirstOrDefault(s => s.Key == $"default/{service}");
                if (expected is null)
                {
                    return programmed is null;
                }

                var actual = programmed?.Frontends.SelectMany(f => f.Backends).Select(b => $"{b.Address}:{b.Port}").Order(StringComparer.Ordinal).ToList();
                return actual is not null && actual.SequenceEqual(expected);
            },
            Timeout,
            what);
    }

    /// <summary>Connects <paramref name="count"/> times to the service from inside the cgroup; backend name → connections, and errno → failures.</summary>
    public async Task<(Dictionary<string, int> Counts, Dictionary<string, int> Errors)> ConnectAsync(string vip, int count = 24)
    {
        var result = await CgroupClient.RunAsync(Cgroup, "tcp", vip, "80", count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var counts = result.GetProperty("counts").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        var errors = result.GetProperty("errors").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        return (counts, errors);
    }

    /// <summary>The frontends (VIP:port/PROTO) in this node's pinned service map, read from the kernel.</summary>
    public IReadOnlySet<string> ProgrammedFrontends()
    {
        using var maps = LbMaps.Open(Path.Combine(BpfFsRoot, NodeName));
        return new ServiceMapWriter(maps, NullLogger<ServiceMapWriter>.Instance).Dump().Select(r => r.Service).ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Runs the node-agent executable (as built beside the tests) to its end: exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Output, string Error)> RunAgentProcessAsync(params string[] args)
    {
        var start = new System.Diagnostics.ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "node-agent"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(Timeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"node-agent {string.Join(' ', args)} did not exit within {Timeout.TotalSeconds}s");
        }

        return (process.ExitCode, await output, await error);
    }

    /// <summary>A remote cluster's etcd in ClusterMesh's format, with its config file in this node's clustermesh directory.</summary>
    public async Task<RemoteClusterEtcd> StartRemoteAsync(string name, uint id, bool canaries = true)
    {
        var remote = await RemoteClusterEtcd.StartAsync(name, id, canaries);
        _ownedAsync.Add(remote);
        return remote;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var agent in _agents)
        {
            await agent.DisposeAsync();
        }

        foreach (var owned in Enumerable.Reverse(_owned))
        {
            owned.Dispose();
        }

        foreach (var owned in Enumerable.Reverse(_ownedAsync))
        {
            await owned.DisposeAsync();
        }

        BpfDatapath.Uninstall(new BpfDatapathOptions { NodeName = NodeName, CgroupPath = Cgroup?.Path ?? "", BpfFsRoot = BpfFsRoot }, NullLogger<BpfDatapath>.Instance);
        if (System.IO.Directory.Exists(BpfFsRoot))
        {
            System.IO.Directory.Delete(BpfFsRoot, recursive: true);
        }

        Cgroup?.Dispose();
        (Kubernetes as IDisposable)?.Dispose();
        if (Lab is not null)
        {
            await Lab.DisposeAsync();
        }

        if (KubernetesEtcd is not null)
        {
            await KubernetesEtcd.DisposeAsync();
        }

        _ca?.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}

/// <summary>A remote cluster for the agent: its own real etcd holding cluster-config, heartbeat, canaries and services in ClusterMesh's format.</summary>
internal sealed class RemoteClusterEtcd : IAsyncDisposable
{
    private RemoteClusterEtcd(string name, uint id, EtcdServer server, EtcdClient client)
    {
        Name = name;
        Id = id;
        Server = server;
        Client = client;
    }

    public string Name { get; }

    public uint Id { get; }

    public EtcdServer Server { get; }

    public EtcdClient Client { get; }

    public static async Task<RemoteClusterEtcd> StartAsync(string name, uint id, bool canaries)
    {
        var server = await EtcdServer.StartAsync();
        var client = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. server.ClientEndpoints] });
        var remote = new RemoteClusterEtcd(name, id, server, client);
        var config = new CiliumClusterConfig { Id = id, Capabilities = new ClusterCapabilities { SyncedCanaries = true, MaxConnectedClusters = 255 } };
        await client.PutAsync(ClusterMeshKeys.ClusterConfig(name), ClusterMeshJson.Serialize(config));
        await client.PutAsync(ClusterMeshKeys.Heartbeat, ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        if (canaries)
        {
            await remote.PutCanariesAsync();
        }

        return remote;
    }

    /// <summary>The synced canary of every kind: from then on readers consider this cluster synced.</summary>
    public async Task PutCanariesAsync()
    {
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            await Client.PutAsync(ClusterMeshKeys.StateSyncedCanary(kind, Name), ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        }
    }

    /// <summary>Writes (or replaces) this cluster's part of default/<paramref name="service"/>: the backends on port http.</summary>
    public async Task PutServiceAsync(string service, int port, bool shared, params TcpBackend[] backends)
    {
        var value = new ClusterService
        {
            Cluster = Name,
            Namespace = "default",
            Name = service,
            Frontends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty,
            Backends = backends.ToImmutableDictionary(
                b => b.EndPoint.Address.ToString(),
                _ => ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = (ushort)port })),
            Labels = ImmutableDictionary<string, string>.Empty,
            Selector = ImmutableDictionary<string, string>.Empty,
            IncludeExternal = true,
            Shared = shared,
            ClusterId = Id,
        };
        await Client.PutAsync(ClusterMeshKeys.Service(Name, "default", service), ClusterMeshJson.Serialize(value));
    }

    /// <summary>The config file the agent's direct source reads, written into <paramref name="directory"/>.</summary>
    public void WriteConfigFile(string directory)
    {
        var text = new StringBuilder("endpoints:\n");
        foreach (var endpoint in Server.ClientEndpoints)
        {
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"- {endpoint}\n");
        }

        File.WriteAllText(Path.Combine(directory, Name), text.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
    }
}
