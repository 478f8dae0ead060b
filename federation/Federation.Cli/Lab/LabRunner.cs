using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Federation.Cli.Mesh;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Pki;
using Spectre.Console;

namespace Federation.Cli.Lab;

/// <summary>Options of <c>lab up</c>.</summary>
public sealed record LabUpOptions
{
    public int Clusters { get; init; } = 2;

    public int Nodes { get; init; } = 2;

    /// <summary><c>wireguard</c> (node agents tunnel cross-cluster pod traffic) or <c>none</c> (plain routes over the underlay).</summary>
    public string Encryption { get; init; } = "wireguard";

    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromMinutes(4);
}

/// <summary>
/// Brings a lab up and down: per cluster a Kubernetes etcd, a lab API server, a mesh etcd (mTLS, per-user auth), a
/// clustermesh-apiserver, and per node a network namespace on a shared underlay bridge, a cgroup and a node agent.
/// </summary>
public sealed partial class LabRunner(CliApp app, string labDirectory)
{
    public const string Prefix = "fedlab";
    public const string UnderlayNamespace = Prefix + "-underlay";

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private IAnsiConsole Console => app.Console;

    public static string DefaultDirectory => Environment.GetEnvironmentVariable("FEDERATION_LAB_DIR") is { Length: > 0 } d ? d : "/var/lib/federation-lab";

    public string Directory => labDirectory;

    private void Step(string text) => Console.MarkupLine($"[grey]{_clock.Elapsed.TotalSeconds,6:0.0}s[/] {Markup.Escape(text)}");

    public static void RequireRoot(string command)
    {
        if (!LabSystem.IsRoot)
        {
            throw new CliException($"clustermesh lab {command} needs root (network namespaces, cgroups, eBPF, WireGuard)", $"run it as root: sudo clustermesh lab {command}");
        }
    }

    public async Task<LabState> UpAsync(LabUpOptions options, CancellationToken ct)
    {
        RequireRoot("up");
        if (options.Clusters is < 2 or > 9)
        {
            throw new CliException($"--clusters: {options.Clusters} must be between 2 and 9");
        }

        if (options.Nodes is < 1 or > 9)
        {
            throw new CliException($"--nodes: {options.Nodes} must be between 1 and 9");
        }

        if (options.Encryption is not ("wireguard" or "none"))
        {
            throw new CliException($"--encryption: '{options.Encryption}' is not wireguard or none");
        }

        if (LabState.TryLoad(labDirectory) is { } existing)
        {
            if (existing.Processes.Any(LabSystem.IsAlive))
            {
                throw new CliException($"a lab is already up ({existing.FilePath})", "see it with: clustermesh lab status; remove it with: clustermesh lab down");
            }

            Step("removing the leftovers of a previous lab");
            await DownAsync(existing, ct);
        }

        var others = LabSystem.Run("ip", ["netns", "list"], check: false).Output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(' ')[0]).Where(n => n.StartsWith(Prefix + "-", StringComparison.Ordinal)).ToList();
        if (others.Count > 0)
        {
            throw new CliException(
                $"another lab is running on this machine (network namespaces {string.Join(", ", others.Take(3))}{(others.Count > 3 ? ", ..." : string.Empty)}); one lab at a time",
                "remove it with: clustermesh lab down --lab-dir DIR (its directory; default /var/lib/federation-lab)");
        }

        var binaries = LabBinaries.Locate();
        foreach (var tool in new[] { "etcd", "ip", "nsenter", "setsid" }.Concat(options.Encryption == "wireguard" ? ["wg", "wireguard-go"] : []))
        {
            if (LabSystem.Run("sh", ["-c", $"command -v {tool}"], check: false).ExitCode != 0)
            {
                throw new CliException($"'{tool}' is not installed", "install the lab's dependencies: eng/install-deps.sh");
            }
        }

        EnsureBpfFs();
        var state = NewState(options);
        state.Save();
        try
        {
            await BringUpAsync(state, binaries, options, ct);
            state.Ready = true;
            state.Save();
            return state;
        }
        catch (Exception e)
        {
            if (Environment.GetEnvironmentVariable("FEDERATION_LAB_KEEP_ON_FAILURE") == "1")
            {
                Console.MarkupLine($"[red]lab up failed[/] ({Markup.Escape(e.Message)}); FEDERATION_LAB_KEEP_ON_FAILURE=1: everything is left as it is for a look (clustermesh lab down removes it)");
                throw;
            }

            Console.MarkupLine($"[red]lab up failed[/] ({Markup.Escape(e.Message)}); removing everything it made (FEDERATION_LAB_KEEP_ON_FAILURE=1 keeps it)");
            PrintLogTails(state);
            await DownAsync(state, CancellationToken.None);
            throw;
        }
    }

    private LabState NewState(LabUpOptions options)
    {
        var ports = new HashSet<int>();
        int Port() => LabSystem.FreePort(ports);
        var cgroupRoot = Path.Combine(LabSystem.CgroupRoot, Prefix);
        var state = new LabState { Directory = labDirectory, Encryption = options.Encryption };
        for (var i = 1; i <= options.Clusters; i++)
        {
            var nodes = new List<LabNode>();
            for (var j = 1; j <= options.Nodes; j++)
            {
                nodes.Add(new LabNode
                {
                    Name = $"cluster{i}-node{j}",
                    Namespace = $"{Prefix}-c{i}n{j}",
                    Address = $"172.31.{i}.{j}",
                    PodCidr = $"10.{i}.{j}.0/24",
                    Cgroup = Path.Combine(cgroupRoot, $"c{i}n{j}"),
                    WireGuardInterface = $"wg-c{i}n{j}",
                    UnderlayVeth = $"v-c{i}n{j}",
                    AgentPort = Port(),
                });
            }

            state.Clusters.Add(new LabCluster
            {
                Name = $"cluster{i}",
                Id = (uint)i,
                Context = $"lab-cluster{i}",
                ServiceCidr = $"127.96.{i}.0/24",
                KubeEtcdPort = Port(),
                KubeEtcdPeerPort = Port(),
                KubeEtcdMetricsPort = Port(),
                MeshEtcdPort = Port(),
                MeshEtcdPeerPort = Port(),
                MeshEtcdMetricsPort = Port(),
                ApiPort = Port(),
                HealthPort = Port(),
                Nodes = nodes,
            });
        }

        return state;
    }

    private async Task BringUpAsync(LabState state, LabBinaries binaries, LabUpOptions options, CancellationToken ct)
    {
        Step($"lab directory {labDirectory}: {state.Clusters.Count} clusters x {options.Nodes} nodes, encryption {options.Encryption}");
        System.IO.Directory.CreateDirectory(labDirectory);
        using var ca = LabCertificateAuthority.Create("federation-lab-ca", TimeSpan.FromDays(3650));
        var caCert = Path.Combine(labDirectory, "ca.crt");
        var caKey = Path.Combine(labDirectory, "ca.key");
        ca.Write(caCert, caKey);

        Step("network: underlay bridge and one namespace per node");
        CreateNetwork(state);
        Step("cgroups: one per node");
        CreateCgroups(state);

        // Kubernetes side of every cluster: its etcd and the lab API server.
        var users = new Dictionary<string, PemCertificate>();
        foreach (var cluster in state.Clusters)
        {
            var paths = new LabPaths(cluster.Directory(labDirectory));
            System.IO.Directory.CreateDirectory(paths.Pki);
            File.Copy(caCert, paths.CaCert, overwrite: true);
            ca.IssueServer($"{cluster.Name}-kube-apiserver", [IPAddress.Loopback], ["localhost"]).Write(paths.File("kube-apiserver.crt"), paths.File("kube-apiserver.key"));
            users[cluster.Name] = ca.IssueClient("lab-admin", ["system:masters"]);
            StartEtcd(state, cluster, "kube", cluster.KubeEtcdPort, cluster.KubeEtcdPeerPort, cluster.KubeEtcdMetricsPort, tls: null);
        }

        WriteKubeconfig(state, ca.CertificatePem, users);
        foreach (var cluster in state.Clusters)
        {
            await WaitHealthyAsync($"etcd (kubernetes) of {cluster.Name}", $"http://127.0.0.1:{cluster.KubeEtcdMetricsPort}/health", ct);
            var paths = new LabPaths(cluster.Directory(labDirectory));
            Track(state, LabSystem.Spawn($"{cluster.Name}/kube-apiserver", "kube-apiserver", cluster.Name, binaries.LabApiServer,
            [
                "--etcd-endpoints", $"http://127.0.0.1:{cluster.KubeEtcdPort}",
                "--listen", $"127.0.0.1:{cluster.ApiPort}",
                "--tls-cert-file", paths.File("kube-apiserver.crt"),
                "--tls-private-key-file", paths.File("kube-apiserver.key"),
                "--client-ca-file", paths.CaCert,
                "--service-cluster-ip-range", cluster.ServiceCidr,
                "--cluster-name", cluster.Name,
            ], paths.Log("kube-apiserver")));
        }

        using var contexts = KubeContexts.Load(state.Kubeconfig);
        foreach (var cluster in state.Clusters)
        {
            Step($"waiting for the Kubernetes API of {cluster.Name} (context {cluster.Context})");
            await WaitUntilAsync($"the lab API server of {cluster.Name}", async () =>
            {
                try
                {
                    await contexts.Client(cluster.Context).ListAsync<Namespace>(null, cancellationToken: ct);
                    return true;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), ct);
            await RegisterNodesAsync(contexts, cluster, ct);
        }

        // enable, through the CLI's own code path: one CA for the lab, so clusters connect without bundling.
        foreach (var cluster in state.Clusters)
        {
            Step($"clustermesh enable --context {cluster.Context} --cluster-name {cluster.Name} --cluster-id {cluster.Id}");
            await MeshEnabler.EnableAsync(contexts.Client(cluster.Context), new EnableRequest
            {
                Context = cluster.Context,
                ClusterName = cluster.Name,
                ClusterId = cluster.Id,
                EtcdEndpoints = [$"https://127.0.0.1:{cluster.MeshEtcdPort}"],
                StatusUrl = $"http://127.0.0.1:{cluster.HealthPort}",
                ServiceType = "ClusterIP",
                CaCertificatePem = ca.CertificatePem,
                CaPrivateKeyPem = ca.PrivateKeyPem,
            }, ct);
            await ProjectCertificatesAsync(contexts, cluster, ct);
            StartEtcd(state, cluster, "mesh", cluster.MeshEtcdPort, cluster.MeshEtcdPeerPort, cluster.MeshEtcdMetricsPort, tls: new LabPaths(cluster.Directory(labDirectory)));
        }

        foreach (var cluster in state.Clusters)
        {
            await WaitHealthyAsync($"etcd (mesh) of {cluster.Name}", $"http://127.0.0.1:{cluster.MeshEtcdMetricsPort}/health", ct);
            var paths = new LabPaths(cluster.Directory(labDirectory));
            System.IO.Directory.CreateDirectory(paths.ClusterMeshConfig);
            Track(state, LabSystem.Spawn($"{cluster.Name}/clustermesh-apiserver", "clustermesh-apiserver", cluster.Name, binaries.ClusterMeshApiServer,
            [
                "--cluster-name", cluster.Name,
                "--cluster-id", cluster.Id.ToString(CultureInfo.InvariantCulture),
                "--etcd-endpoints", $"https://127.0.0.1:{cluster.MeshEtcdPort}",
                "--etcd-ca-file", paths.CaCert,
                "--etcd-cert-file", paths.File("admin.crt"),
                "--etcd-key-file", paths.File("admin.key"),
                "--kubeconfig", state.Kubeconfig,
                "--context", cluster.Context,
                "--health-listen", $"127.0.0.1:{cluster.HealthPort}",
                "--peer-clusters", string.Join(',', state.Clusters.Where(c => c != cluster).Select(c => c.Name)),
                "--clustermesh-config", paths.ClusterMeshConfig,
                "--clustermesh-config-secret", $"{MeshObjects.Namespace}/{MeshObjects.ClusterMeshSecret}",
                "--kvstoremesh-drain-grace", "10s",
                "--heartbeat-interval", "15s",
            ], paths.Log("clustermesh-apiserver")));
        }

        foreach (var cluster in state.Clusters)
        {
            Step($"waiting for clustermesh-apiserver of {cluster.Name} to export its state (/readyz)");
            await WaitHealthyAsync($"clustermesh-apiserver of {cluster.Name}", $"http://127.0.0.1:{cluster.HealthPort}/readyz", ct, TimeSpan.FromSeconds(90), new LabPaths(cluster.Directory(labDirectory)).Log("clustermesh-apiserver"));
            var paths = new LabPaths(cluster.Directory(labDirectory));
            foreach (var node in cluster.Nodes)
            {
                var args = new List<string>
                {
                    "--node-name", node.Name,
                    "--cluster-name", cluster.Name,
                    "--cluster-id", cluster.Id.ToString(CultureInfo.InvariantCulture),
                    "--kubeconfig", state.Kubeconfig,
                    "--context", cluster.Context,
                    "--etcd-endpoints", $"https://127.0.0.1:{cluster.MeshEtcdPort}",
                    "--etcd-ca-file", paths.CaCert,
                    "--etcd-cert-file", paths.File("local.crt"),
                    "--etcd-key-file", paths.File("local.key"),
                    "--cgroup", node.Cgroup,
                    "--bpffs-root", Path.Combine(LabSystem.BpfFsRoot, Prefix),
                    "--state-dir", paths.AgentState(node.Name),
                    "--health-listen", $"127.0.0.1:{node.AgentPort}",
                    "--sync-timeout", "20s",
                };
                if (state.Encryption == "wireguard")
                {
                    args.AddRange(["--wireguard", "true", "--wireguard-netns", node.Namespace, "--wireguard-interface", node.WireGuardInterface, "--wireguard-underlay-interface", "eth0", "--wireguard-route-source", PodIp(node, 1)]);
                }

                Track(state, LabSystem.Spawn($"{node.Name}/node-agent", "node-agent", cluster.Name, binaries.NodeAgent, args, paths.Log("node-agent-" + node.Name)));
            }
        }

        Step($"clustermesh connect --context {state.Clusters[0].Context} --destination-context {string.Join(' ', state.Clusters.Skip(1).Select(c => c.Context))} --connection-mode mesh");
        await app.ConnectAsync(contexts, state.Clusters[0].Context, [.. state.Clusters.Skip(1).Select(c => c.Context)], ConnectionMode.Mesh, parallel: state.Clusters.Count, allowMismatchingCa: false, ct);

        Step("clustermesh status --wait (every remote cluster mirrored, every node agent connected)");
        var code = await app.StatusAsync(contexts, [.. state.Clusters.Select(c => c.Context)], wait: true, options.ReadyTimeout, json: false, ct);
        if (code != 0)
        {
            throw new CliException($"the lab did not become ready within {options.ReadyTimeout.TotalSeconds:0} s", $"logs are in {labDirectory}/<cluster>/logs");
        }

        Step("lab is up");
    }

    /// <summary>The last lines of every lab process's log that is gone or complained, so a failed start says why before cleanup.</summary>
    private void PrintLogTails(LabState state)
    {
        foreach (var process in state.Processes)
        {
            if (!File.Exists(process.Log))
            {
                continue;
            }

            var lines = File.ReadLines(process.Log).TakeLast(200).Where(l => l.Contains("fail", StringComparison.OrdinalIgnoreCase) || l.Contains("error", StringComparison.OrdinalIgnoreCase)).TakeLast(5).ToList();
            if (!LabSystem.IsAlive(process) || lines.Count > 0)
            {
                Console.MarkupLine($"[yellow]{Markup.Escape(process.Name)}[/] ({(LabSystem.IsAlive(process) ? "running" : "exited")}), {Markup.Escape(process.Log)}:");
                foreach (var line in lines.Count > 0 ? lines : File.ReadLines(process.Log).TakeLast(5))
                {
                    Console.WriteLine("    " + (line.Length > 300 ? line[..300] + "…" : line));
                }
            }
        }
    }

    private void Track(LabState state, LabProcess process)
    {
        state.Processes.Add(process);
        state.Save();
    }

    private void StartEtcd(LabState state, LabCluster cluster, string which, int port, int peerPort, int metricsPort, LabPaths? tls)
    {
        var paths = new LabPaths(cluster.Directory(labDirectory));
        var scheme = tls is null ? "http" : "https";
        var name = $"{cluster.Name}-{which}";
        var args = new List<string>
        {
            "--name=" + name,
            "--data-dir=" + paths.EtcdData(which),
            $"--listen-client-urls={scheme}://127.0.0.1:{port}",
            $"--advertise-client-urls={scheme}://127.0.0.1:{port}",
            $"--listen-peer-urls=http://127.0.0.1:{peerPort}",
            $"--initial-advertise-peer-urls=http://127.0.0.1:{peerPort}",
            $"--initial-cluster={name}=http://127.0.0.1:{peerPort}",
            "--initial-cluster-state=new",
            $"--listen-metrics-urls=http://127.0.0.1:{metricsPort}",
            "--auto-compaction-mode=periodic",
            "--auto-compaction-retention=1h",
        };
        if (tls is not null)
        {
            args.AddRange(["--cert-file=" + tls.File("etcd-server.crt"), "--key-file=" + tls.File("etcd-server.key"), "--client-cert-auth", "--trusted-ca-file=" + tls.CaCert]);
        }

        Step($"starting etcd ({which}) of {cluster.Name} on {scheme}://127.0.0.1:{port}");
        Track(state, LabSystem.Spawn($"{cluster.Name}/etcd-{which}", "etcd", cluster.Name, "etcd", args, paths.Log("etcd-" + which), environment: new Dictionary<string, string> { ["ETCD_UNSUPPORTED_ARCH"] = "amd64" }));
    }

    private void WriteKubeconfig(LabState state, string caPem, IReadOnlyDictionary<string, PemCertificate> users)
    {
        var kubeconfig = new Kubeconfig
        {
            Clusters = [.. state.Clusters.Select(c => new KubeconfigCluster { Name = c.Name, Server = $"https://127.0.0.1:{c.ApiPort}", CertificateAuthorityData = Encoding.UTF8.GetBytes(caPem) })],
            Users = [.. state.Clusters.Select(c => new KubeconfigUser { Name = $"{c.Name}-admin", ClientCertificateData = Encoding.UTF8.GetBytes(users[c.Name].CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(users[c.Name].PrivateKeyPem) })],
            Contexts = [.. state.Clusters.Select(c => new KubeconfigContext { Name = c.Context, Cluster = c.Name, User = $"{c.Name}-admin" })],
            CurrentContext = state.Clusters[0].Context,
        };
        KubeconfigWriter.WriteFile(state.Kubeconfig, kubeconfig);
    }

    /// <summary>Nodes as a kubelet would register them: InternalIP and pod CIDR.</summary>
    private static async Task RegisterNodesAsync(KubeContexts contexts, LabCluster cluster, CancellationToken ct)
    {
        foreach (var node in cluster.Nodes)
        {
            var item = new Node
            {
                Metadata = new ObjectMeta
                {
                    Name = node.Name,
                    Labels = new Dictionary<string, string> { ["kubernetes.io/hostname"] = node.Name, ["topology.kubernetes.io/zone"] = cluster.Name },
                    Annotations = new Dictionary<string, string> { [MeshObjects.AgentStatusAnnotation] = $"http://127.0.0.1:{node.AgentPort}/status" },
                },
                Spec = new NodeSpec { PodCIDR = node.PodCidr, PodCIDRs = [node.PodCidr] },
                Status = new NodeStatus { Addresses = [new NodeAddress { Type = "InternalIP", Address = node.Address }, new NodeAddress { Type = "Hostname", Address = node.Name }] },
            };
            await contexts.Client(cluster.Context).CreateAsync(item, ct);
        }
    }

    /// <summary>The lab's kubelet role: the certificate Secrets <c>enable</c> wrote, as files for etcd, the apiserver and the agents.</summary>
    private async Task ProjectCertificatesAsync(KubeContexts contexts, LabCluster cluster, CancellationToken ct)
    {
        var paths = new LabPaths(cluster.Directory(labDirectory));
        foreach (var (secret, file) in new[] { (MeshObjects.ServerCertSecret, "etcd-server"), (MeshObjects.AdminCertSecret, "admin"), (MeshObjects.LocalCertSecret, "local") })
        {
            var item = await MeshObjectStore.TryGetAsync<Secret>(contexts.Client(cluster.Context), cluster.Context, secret, ct)
                ?? throw new CliException($"enable did not write Secret {secret} in {cluster.Name}");
            new PemCertificate(MeshObjectStore.Text(item, "tls.crt")!, MeshObjectStore.Text(item, "tls.key")!).Write(paths.File(file + ".crt"), paths.File(file + ".key"));
        }
    }

    private async Task WaitHealthyAsync(string what, string url, CancellationToken ct, TimeSpan? timeout = null, string? log = null)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(what, async () =>
        {
            try
            {
                using var response = await http.GetAsync(url, ct);
                return response.IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested)
            {
                return false;
            }
        }, timeout ?? TimeSpan.FromSeconds(60), ct, log);
    }

    private static async Task WaitUntilAsync(string what, Func<Task<bool>> condition, TimeSpan timeout, CancellationToken ct, string? log = null)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
            {
                var tail = log is not null && File.Exists(log) ? "; last log lines:\n" + string.Join('\n', File.ReadLines(log).TakeLast(15)) : string.Empty;
                throw new CliException($"{what} did not become ready within {timeout.TotalSeconds:0} s{tail}", log is null ? null : $"see {log}");
            }

            await Task.Delay(250, ct);
        }
    }

    private static void EnsureBpfFs()
    {
        if (LabSystem.Run("sh", ["-c", $"mount | grep -q ' {LabSystem.BpfFsRoot} type bpf'"], check: false).ExitCode != 0)
        {
            LabSystem.Run("mount", ["-t", "bpf", "bpf", LabSystem.BpfFsRoot]);
        }
    }
}
