using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Federation.Mesh.Services;
using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Services;
using Federation.NodeAgent.Tests.Datapath;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using KubeClient = Federation.Kubernetes.Client.KubernetesClient;

namespace Federation.NodeAgent.Bench;

/// <summary>What the whole-agent failover run measured (times in ms; failures are connects that reached no backend).</summary>
internal sealed record AgentFailoverResult(
    List<double> ToRemoteMs, List<double> ToLocalMs, List<double> SliceWriteMs, long FailuresToRemote, int SwitchesWithFailures, long FailuresToLocal);

/// <summary>
/// Failover through the whole node agent, timed from the EndpointSlice change: a real etcd behind the lab API server,
/// cluster2's own etcd mirrored by kvstoremesh (an in-process clustermesh-apiserver) into cluster1's etcd, an in-process
/// node agent reading both (informer → merge → debounce → map writer), one global Service with affinity local, one
/// local and one remote backend (lbbench servers on their own loopback IPs), and the watch client in the agent's cgroup.
/// Everything it creates (processes, cgroup, pins, etcds, files) is removed on dispose.
/// </summary>
internal sealed class AgentFailover : IAsyncDisposable
{
    private const string LocalCluster = "cluster1";
    private const string RemoteCluster = "cluster2";
    private const string ServiceName = "failover";
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Step = TimeSpan.FromSeconds(10);

    private readonly Stack<Func<ValueTask>> _cleanup = new();
    private readonly string _directory = Directory.CreateTempSubdirectory("federation-agent-failover-").FullName;
    private readonly string _node = $"bench-agent-{Guid.NewGuid().ToString("N")[..8]}";
    private IKubernetesClient _kubernetes = null!;
    private LongRunning _watch = null!;
    private EndpointSlice _slice = null!;
    private long _lastLocalFailures;

    private AgentFailover()
    {
    }

    public static async Task<AgentFailover> StartAsync(string binary)
    {
        var bed = new AgentFailover();
        try
        {
            await bed.InitializeAsync(binary);
            return bed;
        }
        catch
        {
            await bed.DisposeAsync();
            throw;
        }
    }

    private async Task InitializeAsync(string binary)
    {
        var cgroup = TestCgroup.Create();
        _cleanup.Push(() => Sync(cgroup.Dispose));
        var bpfFsRoot = $"/sys/fs/bpf/federation-{_node}";
        _cleanup.Push(() => Sync(() =>
        {
            BpfDatapath.Uninstall(new BpfDatapathOptions { NodeName = _node, CgroupPath = cgroup.Path, BpfFsRoot = bpfFsRoot }, NullLogger<BpfDatapath>.Instance);
            if (Directory.Exists(bpfFsRoot))
            {
                Directory.Delete(bpfFsRoot, recursive: true);
            }
        }));

        // Two backends: "l" in cluster1 (listed in the EndpointSlice), "r" in cluster2 (in cluster2's ClusterService).
        var localPort = await StartServerAsync(binary, "127.0.3.5", "l");
        var remotePort = await StartServerAsync(binary, "127.0.3.6", "r");

        // cluster2: its own etcd with cluster config, heartbeat, synced canaries and its part of the service.
        var remoteEtcd = Own(await EtcdServer.StartAsync());
        var remoteClient = Own(EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. remoteEtcd.ClientEndpoints] }));
        await remoteClient.PutAsync(
            ClusterMeshKeys.ClusterConfig(RemoteCluster),
            ClusterMeshJson.Serialize(new CiliumClusterConfig { Id = 2, Capabilities = new ClusterCapabilities { SyncedCanaries = true, MaxConnectedClusters = 255 } }));
        await remoteClient.PutAsync(ClusterMeshKeys.Heartbeat, ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        await remoteClient.PutAsync(ClusterMeshKeys.Service(RemoteCluster, "default", ServiceName), ClusterMeshJson.Serialize(new ClusterService
        {
            Cluster = RemoteCluster,
            Namespace = "default",
            Name = ServiceName,
            Frontends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty,
            Backends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty
                .Add("127.0.3.6", ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = (ushort)remotePort })),
            Labels = ImmutableDictionary<string, string>.Empty,
            Selector = ImmutableDictionary<string, string>.Empty,
            IncludeExternal = true,
            Shared = true,
            ClusterId = 2,
        }));
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            await remoteClient.PutAsync(ClusterMeshKeys.StateSyncedCanary(kind, RemoteCluster), ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow));
        }

        // cluster1: the lab API server on its own etcd (mTLS, kubeconfig), and the cluster's etcd for kvstoremesh's copies.
        var kubernetesEtcd = Own(await EtcdServer.StartAsync());
        var localEtcd = Own(await EtcdServer.StartAsync());
        var ca = LabCertificateAuthority.Create();
        _cleanup.Push(() => Sync(ca.Dispose));
        var caFile = Path.Combine(_directory, "ca.crt");
        File.WriteAllText(caFile, ca.CertificatePem);
        ca.IssueServer("lab-apiserver", [IPAddress.Loopback]).Write(Path.Combine(_directory, "apiserver.crt"), Path.Combine(_directory, "apiserver.key"));
        var lab = Own(await LabApiServerHost.StartAsync(
            new LabApiServerOptions
            {
                EtcdEndpoints = [.. kubernetesEtcd.ClientEndpoints],
                Listen = new IPEndPoint(IPAddress.Loopback, 0),
                TlsCertFile = Path.Combine(_directory, "apiserver.crt"),
                TlsPrivateKeyFile = Path.Combine(_directory, "apiserver.key"),
                ClientCaFile = caFile,
                ServiceClusterIpRange = "127.96.250.0/24",
                ClusterName = LocalCluster,
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning)));
        var admin = ca.IssueClient("node-agent", ["system:masters"]);
        var kubeconfig = Path.Combine(_directory, "kubeconfig");
        KubeconfigWriter.WriteFile(kubeconfig, new Kubeconfig
        {
            Clusters = [new KubeconfigCluster { Name = LocalCluster, Server = lab.BaseUri.GetLeftPart(UriPartial.Authority), CertificateAuthorityData = Encoding.UTF8.GetBytes(ca.CertificatePem) }],
            Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.UTF8.GetBytes(admin.CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(admin.PrivateKeyPem) }],
            Contexts = [new KubeconfigContext { Name = LocalCluster, Cluster = LocalCluster, User = "admin", Namespace = "default" }],
            CurrentContext = LocalCluster,
        });
        _kubernetes = KubeClient.Create(KubernetesClientConfiguration.FromKubeconfig(LocalCluster, kubeconfig));
        _cleanup.Push(() => Sync(() => (_kubernetes as IDisposable)?.Dispose()));

        // kvstoremesh: cluster2's etcd → cluster1's etcd (cilium/cache/...), which is all the agent reads of cluster2.
        var meshConfig = Directory.CreateDirectory(Path.Combine(_directory, "kvstoremesh")).FullName;
        File.WriteAllText(
            Path.Combine(meshConfig, RemoteCluster),
            "endpoints:\n" + string.Concat(remoteEtcd.ClientEndpoints.Select(e => $"- {e}\n")));
        Own(await ApiServerHost.StartAsync(
            new ApiServerOptions
            {
                ClusterName = LocalCluster,
                ClusterId = 1,
                EtcdEndpoints = [.. localEtcd.ClientEndpoints],
                Kubeconfig = kubeconfig,
                KubeContext = LocalCluster,
                HealthListen = new IPEndPoint(IPAddress.Loopback, 0),
                ClusterMeshConfig = meshConfig,
            },
            // Errors only: without etcd client certificates it warns (rightly) that etcd access control is off.
            logging => logging.SetMinimumLevel(LogLevel.Error)));

        var service = await _kubernetes.CreateAsync(new Service
        {
            Metadata = new ObjectMeta
            {
                Name = ServiceName,
                Namespace = "default",
                Annotations = new Dictionary<string, string> { [GlobalServiceAnnotations.Global] = "true", [GlobalServiceAnnotations.Affinity] = "local" },
            },
            Spec = new ServiceSpec { Type = "ClusterIP", Ports = [new ServicePort { Name = "http", Protocol = "TCP", Port = 80 }] },
        });
        _slice = await _kubernetes.CreateAsync(new EndpointSlice
        {
            Metadata = new ObjectMeta
            {
                Name = $"{ServiceName}-1",
                Namespace = "default",
                Labels = new Dictionary<string, string> { [LocalServiceBuilder.ServiceNameLabel] = ServiceName },
            },
            AddressType = "IPv4",
            Ports = [new EndpointPort { Name = "http", Protocol = "TCP", Port = localPort }],
            Endpoints = [new Endpoint { Addresses = ["127.0.3.5"], Conditions = Conditions(ready: true) }],
        });

        var agent = await AgentHost.StartAsync(
            new AgentOptions
            {
                NodeName = _node,
                ClusterName = LocalCluster,
                ClusterId = 1,
                Kubeconfig = kubeconfig,
                KubeContext = LocalCluster,
                ClusterMeshConfig = Path.Combine(_directory, "clustermesh"),
                RemoteSource = RemoteSourceKind.Cache,
                EtcdEndpoints = [.. localEtcd.ClientEndpoints],
                CgroupPath = cgroup.Path,
                BpfFsRoot = bpfFsRoot,
                StateDirectory = Path.Combine(_directory, "state"),
                HealthListen = new IPEndPoint(IPAddress.Loopback, 0),
                SyncTimeout = TimeSpan.FromSeconds(60),
            },
            logging => logging.SetMinimumLevel(LogLevel.Warning));
        _cleanup.Push(agent.DisposeAsync);

        // The client: connects to the VIP from the agent's cgroup in a tight loop, printing each change of backend.
        _watch = Tools.Start(binary, ["watch", service.Spec!.ClusterIP!, "80"], cgroup: cgroup.Path);
        _cleanup.Push(() => Sync(_watch.Dispose));
        await WatchLine.WaitForAsync(_watch, 'l', Startup);

        // One unmeasured round trip: cluster2's service has come through kvstoremesh, and the paths are warm.
        await SetLocalReadyAsync(false);
        await WatchLine.WaitForAsync(_watch, 'r', Startup);
        await SetLocalReadyAsync(true);
        _lastLocalFailures = (await WatchLine.WaitForAsync(_watch, 'l', Step)).Failures;
    }

    /// <summary>
    /// <paramref name="repeats"/> times: the local endpoint ready → wait until connects go local; then not ready, t0 when the
    /// API write returns, t1 when the first connect reaches the remote backend.
    /// </summary>
    public async Task<AgentFailoverResult> RunAsync(int repeats)
    {
        List<double> toRemote = [], toLocal = [], writes = [];
        long failuresToRemote = 0, failuresToLocal = 0;
        var switchesWithFailures = 0;
        for (var i = 0; i < repeats; i++)
        {
            var before = Stopwatch.GetTimestamp();
            var t0 = await SetLocalReadyAsync(false);
            writes.Add((t0 - before) / 1e6);
            var onRemote = await WatchLine.WaitForAsync(_watch, 'r', Step);
            toRemote.Add((onRemote.Nanoseconds - t0) / 1e6);

            var back = await SetLocalReadyAsync(true);
            var onLocal = await WatchLine.WaitForAsync(_watch, 'l', Step);
            toLocal.Add((onLocal.Nanoseconds - back) / 1e6);

            // Failures are cumulative in the watch's lines: this round's switch to remote lies between the previous 'l' and this 'r'.
            var failed = onRemote.Failures - _lastLocalFailures;
            failuresToRemote += failed;
            switchesWithFailures += failed > 0 ? 1 : 0;
            failuresToLocal += onLocal.Failures - onRemote.Failures;
            _lastLocalFailures = onLocal.Failures;
        }

        return new AgentFailoverResult(toRemote, toLocal, writes, failuresToRemote, switchesWithFailures, failuresToLocal);
    }

    /// <summary>Updates the EndpointSlice (one API write); returns the monotonic time (ns) at which the write returned.</summary>
    private async Task<long> SetLocalReadyAsync(bool ready)
    {
        var slice = _slice with { Endpoints = [_slice.Endpoints![0] with { Conditions = Conditions(ready) }] };
        _slice = await _kubernetes.UpdateAsync(slice);
        return Stopwatch.GetTimestamp();
    }

    private static EndpointConditions Conditions(bool ready) => new() { Ready = ready, Serving = ready, Terminating = false };

    private T Own<T>(T owned)
        where T : IAsyncDisposable
    {
        _cleanup.Push(owned.DisposeAsync);
        return owned;
    }

    private static ValueTask Sync(Action action)
    {
        action();
        return ValueTask.CompletedTask;
    }

    /// <summary>An lbbench server answering with <paramref name="name"/>, stopped on dispose; returns its port.</summary>
    private async Task<int> StartServerAsync(string binary, string address, string name)
    {
        var server = Tools.Start(binary, ["server", address, "0", name]);
        _cleanup.Push(() => Sync(server.Dispose));
        var line = await server.NextLineAsync(Step);
        return int.Parse(line["listening ".Length..], CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        while (_cleanup.TryPop(out var step))
        {
            try
            {
                await step();
            }
            catch (Exception e)
            {
                Console.Error.WriteLine($"cleanup: {e.Message}");
            }
        }

        Directory.Delete(_directory, recursive: true);
    }
}
