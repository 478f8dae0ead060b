using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Etcd.Bench;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Microsoft.Extensions.Logging;
using Endpoint = Federation.Kubernetes.Models.Endpoint;

// The clustermesh-apiserver (the real executable, a child process) exporting a populated cluster:
// initial export of N global Services × 10 endpoints and M pods (time to /readyz, peak RSS), then
// endpoint churn (lag from the slice's commit in the lab API server's etcd to the exported key, p50/p99).
// Usage: dotnet run -c Release --project bench/Federation.ClusterMesh.ApiServer.Bench [--quick]
var quick = args.Contains("--quick");
var serviceCount = quick ? 1_000 : 10_000;
var podCount = quick ? 5_000 : 50_000;
var churnRate = 300;
var churnSeconds = quick ? 5 : 20;

var directory = Directory.CreateTempSubdirectory("federation-cm-bench").FullName;
Process? apiserver = null;
try
{
    await using var kubeEtcd = await EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--quota-backend-bytes=8589934592"] });
    await using var meshEtcd = await EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--quota-backend-bytes=8589934592"] });
    using var ca = LabCertificateAuthority.Create();
    File.WriteAllText(Path.Combine(directory, "ca.crt"), ca.CertificatePem);
    ca.IssueServer("lab-apiserver", [IPAddress.Loopback]).Write(Path.Combine(directory, "apiserver.crt"), Path.Combine(directory, "apiserver.key"));
    await using var lab = await LabApiServerHost.StartAsync(
        new LabApiServerOptions
        {
            EtcdEndpoints = [.. kubeEtcd.ClientEndpoints],
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            TlsCertFile = Path.Combine(directory, "apiserver.crt"),
            TlsPrivateKeyFile = Path.Combine(directory, "apiserver.key"),
            ClientCaFile = Path.Combine(directory, "ca.crt"),
            ServiceClusterIpRange = "127.96.0.0/16",
            ClusterName = "cluster1",
        },
        logging => logging.SetMinimumLevel(LogLevel.Warning));
    var admin = ca.IssueClient("clustermesh-apiserver", ["system:masters"]);
    var kubeconfig = Path.Combine(directory, "kubeconfig");
    KubeconfigWriter.WriteFile(kubeconfig, new Kubeconfig
    {
        Clusters = [new KubeconfigCluster { Name = "cluster1", Server = lab.BaseUri.GetLeftPart(UriPartial.Authority), CertificateAuthorityData = Encoding.UTF8.GetBytes(ca.CertificatePem) }],
        Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.UTF8.GetBytes(admin.CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(admin.PrivateKeyPem) }],
        Contexts = [new KubeconfigContext { Name = "cluster1", Cluster = "cluster1", User = "admin" }],
        CurrentContext = "cluster1",
    });
    using var kube = KubernetesClient.Create(KubernetesClientConfiguration.FromKubeconfig("cluster1", kubeconfig));
    await using var mesh = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. meshEtcd.ClientEndpoints] });
    Console.WriteLine($"{Environment.ProcessorCount} cores; {(quick ? "quick" : "full")} run: {serviceCount} global Services × 10 endpoints, {podCount} pods");

    // Populate the cluster (not measured). Slices are written directly (Services without selectors), as
    // an EndpointSlice controller would; pods carry status (Running, IP) as a kubelet would report it.
    var populate = Stopwatch.StartNew();
    await kube.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = "shop" } });
    await ParallelAsync(serviceCount, async i =>
    {
        await kube.CreateAsync(GlobalService(i));
        await kube.CreateAsync(Slice(i, readyMask: 0x3FF));
    });
    await ParallelAsync(podCount, i => kube.CreateAsync(PodObject(i)));
    Console.WriteLine($"populated in {populate.Elapsed.TotalSeconds:0.0} s");

    // (1) initial export by the real executable: time to /readyz (every canary written), peak RSS.
    var healthPort = LoopbackPorts.Pick(1)[0];
    var exe = Path.Combine(AppContext.BaseDirectory, "clustermesh-apiserver.dll");
    var psi = new ProcessStartInfo("dotnet", [exe, "--cluster-name", "cluster1", "--cluster-id", "1", "--etcd-endpoints", meshEtcd.ClientEndpoints[0].ToString(),
        "--kubeconfig", kubeconfig, "--context", "cluster1", "--health-listen", $"127.0.0.1:{healthPort}"])
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
    };
    var started = Stopwatch.StartNew();
    apiserver = Process.Start(psi)!;
    var output = new ConcurrentQueue<string>();
    apiserver.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
    apiserver.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
    apiserver.BeginOutputReadLine();
    apiserver.BeginErrorReadLine();
    using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort}/"), Timeout = TimeSpan.FromSeconds(5) };
    var deadline = TimeSpan.FromMinutes(quick ? 2 : 5);
    while (true)
    {
        if (apiserver.HasExited)
        {
            throw new InvalidOperationException($"clustermesh-apiserver exited with {apiserver.ExitCode}:\n{string.Join('\n', output.TakeLast(30))}");
        }

        try
        {
            if ((await http.GetAsync("readyz")).IsSuccessStatusCode)
            {
                break;
            }
        }
        catch (HttpRequestException)
        {
        }

        if (started.Elapsed > deadline)
        {
            throw new TimeoutException($"not ready after {deadline}: {await SafeGetAsync(http, "readyz")}\n{string.Join('\n', output.TakeLast(30))}");
        }

        await Task.Delay(50);
    }

    var exportSeconds = started.Elapsed.TotalSeconds;
    var services = await mesh.CountPrefixAsync("cilium/state/services/v1/cluster1/");
    var identities = await mesh.CountPrefixAsync("cilium/state/identities/v1/");
    var ips = await mesh.CountPrefixAsync("cilium/state/ip/v1/");
    var peakAfterExport = PeakRssMiB(apiserver.Id);

    // (2) churn: flip one endpoint's readiness in a random slice, churnRate times a second; the lag is
    // from just before the lab API server write to the etcd event of that Service's key.
    // The write is timed where it happens: the slice's commit, seen by a watch on the lab API server's etcd
    // (the client's request may wait in the server behind others; that is not the exporter's lag).
    // Commits and exports are matched by content (a service's readiness sets do not repeat, see below), not by order:
    // the two watches below are independent, so an export can be seen here before the commit it reflects.
    var tracker = new LagTracker();
    var lags = tracker.Lags;
    using var churnCts = new CancellationTokenSource();
    await using var kubeStore = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. kubeEtcd.ClientEndpoints] });
    const string SlicePrefix = "/registry/discovery.k8s.io/endpointslices/shop/";
    var kubeHead = (await kubeStore.GetPrefixAsync(SlicePrefix, limit: 1)).Header.Revision;
    var writes = Task.Run(async () =>
    {
        try
        {
            await foreach (var response in kubeStore.WatchPrefixAsync(SlicePrefix, kubeHead + 1, cancellationToken: churnCts.Token))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var ev in response.Events)
                {
                    var slice = ev.Kv.Key.ToStringUtf8()[SlicePrefix.Length..];
                    var mask = 0;
                    foreach (var endpoint in JsonNode.Parse(ev.Kv.Value.Span)?["endpoints"]?.AsArray() ?? [])
                    {
                        if ((bool?)endpoint?["conditions"]?["ready"] == true)
                        {
                            mask |= 1 << (LastOctet((string)endpoint!["addresses"]![0]!) - 1);
                        }
                    }

                    tracker.Committed(slice[..^"-bench".Length], mask, now);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    });
    var head = (await mesh.GetPrefixAsync("cilium/state/services/v1/cluster1/", limit: 1)).Header.Revision;
    var watcher = Task.Run(async () =>
    {
        try
        {
            await foreach (var response in mesh.WatchPrefixAsync("cilium/state/services/v1/cluster1/", head + 1, cancellationToken: churnCts.Token))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var ev in response.Events)
                {
                    var key = ev.Kv.Key.ToStringUtf8();
                    var mask = 0;
                    foreach (var backend in JsonNode.Parse(ev.Kv.Value.Span)?["backends"]?.AsObject() ?? [])
                    {
                        mask |= 1 << (LastOctet(backend.Key) - 1);
                    }

                    tracker.Exported(key[(key.LastIndexOf('/') + 1)..], mask, now);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    });
    var random = new Random(42);
    var masks = new int[serviceCount];
    Array.Fill(masks, 0x3FF);
    var changes = churnRate * churnSeconds;
    var churn = Stopwatch.StartNew();
    var inflight = new List<Task>();
    for (var n = 0; n < changes; n++)
    {
        // Pace: change n is due at n / rate seconds.
        var wait = TimeSpan.FromSeconds(n / (double)churnRate) - churn.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }

        var i = random.Next(serviceCount);
        int mask;
        lock (masks)
        {
            // The next of the 1023 non-empty readiness sets of the slice's 10 endpoints: at least one endpoint stays
            // ready, and a service returns to an earlier set only after 1023 changes, so two quick changes of one
            // service never cancel out into an export with nothing to write (whose lag could not be measured).
            mask = (masks[i] % 0x3FF) + 1;
            masks[i] = mask;
        }

        inflight.Add(kube.UpdateAsync(Slice(i, mask) with { Metadata = Slice(i, mask).Metadata with { ResourceVersion = null } }));
        if (inflight.Count >= 64)
        {
            await Task.WhenAll(inflight);
            inflight.Clear();
        }
    }

    await Task.WhenAll(inflight);
    var achievedRate = changes / churn.Elapsed.TotalSeconds;
    var settle = Stopwatch.StartNew();
    while (lags.Count < changes && settle.Elapsed < TimeSpan.FromSeconds(30))
    {
        await Task.Delay(50);
    }

    await churnCts.CancelAsync();
    await watcher;
    await writes;
    var peak = PeakRssMiB(apiserver.Id);

    // Services with commits never followed by an export: is the exported key equal to the slice all the same
    // (the export had nothing new to write), or did the exporter miss the change?
    var leftover = tracker.Unsettled();
    var stale = new List<string>();
    foreach (var name in leftover)
    {
        var slice = await kube.GetAsync<EndpointSlice>("shop", name + "-bench");
        var ready = (slice.Endpoints ?? []).Where(e => e.Conditions?.Ready == true).Select(e => e.Addresses[0]).Order(StringComparer.Ordinal).ToList();
        var kv = await mesh.GetAsync("cilium/state/services/v1/cluster1/shop/" + name);
        var exported = kv is null ? [] : (JsonNode.Parse(kv.Value.Span)?["backends"]?.AsObject().Select(b => b.Key).Order(StringComparer.Ordinal).ToList() ?? []);
        if (!ready.SequenceEqual(exported))
        {
            stale.Add($"{name}: slice ready [{string.Join(' ', ready)}], exported [{string.Join(' ', exported)}]");
        }
    }

    var report = new Report();
    report.Add("initial export → /readyz", $"{serviceCount} svc × 10 ep, {podCount} pods", [exportSeconds * 1000], "ms");
    report.Add("endpoint churn lag (k8s write → etcd key)", $"{achievedRate:0}/s for {churnSeconds} s", [.. lags], "ms");
    report.Print();
    Console.WriteLine();
    Console.WriteLine($"exported: {services} services, {identities} identities, {ips} ip entries");
    Console.WriteLine($"initial export: {exportSeconds:0.0} s (target ≤ 20 s); peak RSS {peakAfterExport:0} MiB after export, {peak:0} MiB after churn (target ≤ 1024 MiB)");
    Console.WriteLine($"churn lag p99: {(lags.IsEmpty ? double.NaN : Stats.Percentile([.. lags], 0.99)):0.0} ms over {lags.Count} of {changes} changes seen (target ≤ 100 ms)");

    Console.WriteLine($"changes never seen: on {leftover.Count} services; exported backends differ from the slice's ready endpoints on {stale.Count} of them");
    foreach (var line in stale.Take(5))
    {
        Console.WriteLine($"  {line}");
    }

    // What the apiserver complained about during the run (slow outliers usually show up here).
    var warnings = output.Where(line => line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)).ToList();
    Console.WriteLine($"apiserver warnings/errors logged: {warnings.Count}");
    foreach (var line in warnings.Take(5))
    {
        Console.WriteLine($"  {line}");
    }
}
finally
{
    if (apiserver is { HasExited: false })
    {
        apiserver.Kill(entireProcessTree: true);
        await apiserver.WaitForExitAsync();
    }

    Directory.Delete(directory, recursive: true);
}

static string ServiceName(int i) => $"svc-{i:D5}";

static Service GlobalService(int i) => new()
{
    Metadata = new ObjectMeta
    {
        Name = ServiceName(i),
        Namespace = "shop",
        Annotations = new Dictionary<string, string> { ["service.cilium.io/global"] = "true" },
    },
    Spec = new ServiceSpec { Ports = [new ServicePort { Name = "http", Port = 80, TargetPort = 8080 }] },
};

// Ten endpoints; bit k of readyMask says whether endpoint k is ready.
static EndpointSlice Slice(int i, int readyMask) => new()
{
    Metadata = new ObjectMeta
    {
        Name = ServiceName(i) + "-bench",
        Namespace = "shop",
        Labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = ServiceName(i), ["endpointslice.kubernetes.io/managed-by"] = "bench" },
    },
    AddressType = "IPv4",
    Endpoints = [.. Enumerable.Range(0, 10).Select(k => new Endpoint
    {
        Addresses = [$"10.{1 + (i / 250)}.{i % 250}.{k + 1}"],
        Conditions = new EndpointConditions { Ready = (readyMask & (1 << k)) != 0, Serving = (readyMask & (1 << k)) != 0, Terminating = false },
        NodeName = "node-1",
    })],
    Ports = [new EndpointPort { Name = "http", Protocol = "TCP", Port = 8080 }],
};

// 50 label sets (so identities are shared, as in real clusters), one IP each.
static Pod PodObject(int i) => new()
{
    Metadata = new ObjectMeta { Name = $"pod-{i:D6}", Namespace = "shop", Labels = new Dictionary<string, string> { ["app"] = $"app-{i % 50}" } },
    Spec = new PodSpec { NodeName = "node-1", Containers = [new Container { Name = "main", Image = "lab/http" }] },
    Status = new PodStatus { Phase = "Running", PodIP = $"10.{100 + (i / 62500)}.{i / 250 % 250}.{i % 250 + 1}", HostIP = "192.168.0.1" },
};

static async Task ParallelAsync(int count, Func<int, Task> action)
{
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < count)
        {
            await action(i);
        }
    })));
}

// VmHWM: the peak resident set of the process.
static double PeakRssMiB(int pid)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
        {
            return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
    }

    return double.NaN;
}

static int LastOctet(string ip) => int.Parse(ip.AsSpan(ip.LastIndexOf('.') + 1), CultureInfo.InvariantCulture);

static async Task<string> SafeGetAsync(HttpClient http, string path)
{
    try
    {
        return await http.GetStringAsync(path);
    }
    catch (HttpRequestException ex)
    {
        return ex.Message;
    }
}

/// <summary>
/// Pairs each slice commit with the first export of the same readiness set of that service. An export settles the
/// commits before it as well (the exporter may skip intermediate states); an export seen before its commit is held
/// until the commit arrives and counts as no lag.
/// </summary>
internal sealed class LagTracker
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<(int Mask, long At)>> _commits = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Dictionary<int, long>> _early = new(StringComparer.Ordinal);

    public ConcurrentBag<double> Lags { get; } = [];

    public void Committed(string service, int mask, long at)
    {
        lock (_gate)
        {
            if (_early.TryGetValue(service, out var early) && early.Remove(mask, out var exportedAt))
            {
                // Exported before this watch showed the commit: settle it and anything queued before it.
                Settle(service, int.MaxValue, exportedAt);
                Lags.Add(0);
                return;
            }

            (_commits.TryGetValue(service, out var list) ? list : _commits[service] = []).Add((mask, at));
        }
    }

    public void Exported(string service, int mask, long at)
    {
        lock (_gate)
        {
            if (_commits.TryGetValue(service, out var list) && list.FindIndex(c => c.Mask == mask) is var index and >= 0)
            {
                Settle(service, index, at);
                return;
            }

            (_early.TryGetValue(service, out var early) ? early : _early[service] = [])[mask] = at;
        }
    }

    public List<string> Unsettled()
    {
        lock (_gate)
        {
            return [.. _commits.Where(c => c.Value.Count > 0).Select(c => c.Key).Order(StringComparer.Ordinal)];
        }
    }

    private void Settle(string service, int upTo, long at)
    {
        if (!_commits.TryGetValue(service, out var list))
        {
            return;
        }

        var count = upTo >= list.Count ? list.Count : upTo + 1;
        foreach (var (_, committedAt) in list.Take(count))
        {
            Lags.Add(Math.Max(0, Stopwatch.GetElapsedTime(committedAt, at).TotalMilliseconds));
        }

        list.RemoveRange(0, count);
    }
}
