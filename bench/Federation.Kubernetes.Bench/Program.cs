using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using Federation.Etcd.Bench;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Microsoft.Extensions.Logging;

// The Kubernetes client against the lab API server (in this process) over TLS with a client
// certificate, the server on a real etcd. Prints markdown tables.
// Usage: dotnet run -c Release --project bench/Federation.Kubernetes.Bench [--quick]
var quick = args.Contains("--quick");
var services = quick ? 2_000 : 10_000;
var creates = quick ? 200 : 500;
var rounds = quick ? 3 : 5;

var directory = Directory.CreateTempSubdirectory("federation-k8s-bench").FullName;
try
{
    await using var etcd = await EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--quota-backend-bytes=8589934592"] });
    using var ca = LabCertificateAuthority.Create();
    File.WriteAllText(Path.Combine(directory, "ca.crt"), ca.CertificatePem);
    ca.IssueServer("lab-apiserver", [IPAddress.Loopback]).Write(Path.Combine(directory, "apiserver.crt"), Path.Combine(directory, "apiserver.key"));
    await using var server = await LabApiServerHost.StartAsync(
        new LabApiServerOptions
        {
            EtcdEndpoints = [.. etcd.ClientEndpoints],
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            TlsCertFile = Path.Combine(directory, "apiserver.crt"),
            TlsPrivateKeyFile = Path.Combine(directory, "apiserver.key"),
            ClientCaFile = Path.Combine(directory, "ca.crt"),
            ServiceClusterIpRange = "127.96.0.0/16",
            ClusterName = "bench",
        },
        logging => logging.SetMinimumLevel(LogLevel.Warning));

    // Configured as a user would: a kubeconfig file.
    var admin = ca.IssueClient("bench-admin", ["system:masters"]);
    var kubeconfig = Path.Combine(directory, "kubeconfig");
    KubeconfigWriter.WriteFile(kubeconfig, new Kubeconfig
    {
        Clusters = [new KubeconfigCluster { Name = "bench", Server = server.BaseUri.ToString().TrimEnd('/'), CertificateAuthorityData = System.Text.Encoding.UTF8.GetBytes(ca.CertificatePem) }],
        Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = System.Text.Encoding.UTF8.GetBytes(admin.CertificatePem), ClientKeyData = System.Text.Encoding.UTF8.GetBytes(admin.PrivateKeyPem) }],
        Contexts = [new KubeconfigContext { Name = "bench", Cluster = "bench", User = "admin" }],
        CurrentContext = "bench",
    });
    using var client = KubernetesClient.Create(KubernetesClientConfiguration.FromKubeconfig("bench", kubeconfig));
    Console.WriteLine($"lab API server {server.BaseUri} on etcd {etcd.ClientEndpoints[0]}; {Environment.ProcessorCount} cores; {(quick ? "quick" : "full")} run");

    await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = "bench-watch" } });
    await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = "bench-list" } });
    var report = new Report();

    // Warm-up: JIT, TLS sessions and connections stay out of the measured percentiles.
    await CreateToEventAsync(client, watchers: 5, count: 100, "warm");

    // (1) create -> watch event, with 1 and 20 watchers (each its own watch stream).
    foreach (var watchers in new[] { 1, 20 })
    {
        report.Add("create→watch event", $"{watchers} watchers", await CreateToEventAsync(client, watchers, creates, $"w{watchers}"), "ms");
    }

    // (2) list 10k Services (each with a ClusterIP allocated by the server).
    var createWatch = Stopwatch.StartNew();
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => Task.Run(async () =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < services)
        {
            await client.CreateAsync(ServiceObject($"svc-{i:D5}"));
        }
    })));
    report.AddRate("create Service", "16 in flight", services / createWatch.Elapsed.TotalSeconds);

    var whole = new List<double>();
    var paged = new List<double>();
    for (var round = 0; round < rounds; round++)
    {
        whole.Add(await TimeAsync(async () => Expect(services, (await client.ListAsync<Service>("bench-list")).Items.Count)));
        paged.Add(await TimeAsync(async () => Expect(services, (await client.ListAllAsync<Service>("bench-list", new ListOptions { Limit = 500 })).Items.Count)));
    }

    report.Add($"list {services / 1000}k Services", "one request", whole, "ms");
    report.Add($"list {services / 1000}k Services", "pages of 500", paged, "ms");

    // (3) informer memory per 10k objects (managed heap after full collections).
    var (perInformer, heaps, items) = await MeasureInformerAsync(client);
    Expect(services, items);
    var mbPer10k = perInformer / (double)items * 10_000 / (1024 * 1024);

    report.Print();
    Console.WriteLine();
    Console.WriteLine($"informer memory: {mbPer10k.ToString("0.0", CultureInfo.InvariantCulture)} MiB per 10k Services ({items} cached each; heap with 1, 2, 3 informers: {string.Join(" / ", heaps.Select(h => (h / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture)))} MiB)");
    Console.WriteLine($"create→watch p99 with 20 watchers: {report.Percentile("create→watch event", "20 watchers", 0.99).ToString("0.00", CultureInfo.InvariantCulture)} ms (target ≤ 10 ms)");
    Console.WriteLine($"list of {services} Services, median: {Stats.Median(whole).ToString("0", CultureInfo.InvariantCulture)} ms one request, {Stats.Median(paged).ToString("0", CultureInfo.InvariantCulture)} ms paged (target ≤ 500 ms)");
}
finally
{
    Directory.Delete(directory, recursive: true);
}

// Three informers over the same objects, all kept alive: the heap's growth from the first to the third,
// halved, is one informer's cache; one-off buffers of the first list do not count.
static async Task<(long PerInformer, long[] Heaps, int Items)> MeasureInformerAsync(IKubernetesClient client)
{
    var informers = new List<Informer<Service>>();
    var heaps = new long[3];
    using var stop = new CancellationTokenSource();
    var runs = new List<Task>();
    for (var i = 0; i < 3; i++)
    {
        var informer = new Informer<Service>(client, new InformerOptions { Name = $"bench-{i}", Namespace = "bench-list" });
        runs.Add(informer.RunAsync(stop.Token));
        await informer.Synced;
        informers.Add(informer);
        heaps[i] = GC.GetTotalMemory(forceFullCollection: true);
    }

    var items = informers[^1].List().Count;
    await stop.CancelAsync();
    await Task.WhenAll(runs);
    GC.KeepAlive(informers);
    return ((heaps[2] - heaps[0]) / 2, heaps, items);
}

static Service ServiceObject(string name) => new()
{
    Metadata = new ObjectMeta { Name = name, Namespace = "bench-list", Labels = new Dictionary<string, string> { ["app"] = name, ["tier"] = "bench" } },
    Spec = new ServiceSpec
    {
        Selector = new Dictionary<string, string> { ["app"] = name },
        Ports = [new ServicePort { Name = "http", Port = 80, TargetPort = 8080 }],
    },
};

static async Task<List<double>> CreateToEventAsync(IKubernetesClient client, int watchers, int count, string tag)
{
    var sent = new ConcurrentDictionary<string, long>();
    var latencies = new ConcurrentBag<double>();
    var marker = await client.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = $"{tag}-marker", Namespace = "bench-watch" } });
    using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
    using var live = new CountdownEvent(watchers);
    var tasks = Enumerable.Range(0, watchers).Select(_ => Task.Run(async () =>
    {
        var seen = 0;
        // From just before the marker: the marker's ADDED shows this watcher is live.
        var from = (long.Parse(marker.Metadata.ResourceVersion!, CultureInfo.InvariantCulture) - 1).ToString(CultureInfo.InvariantCulture);
        await foreach (var ev in client.WatchAsync<ConfigMap>("bench-watch", new WatchOptions { ResourceVersion = from }, cts.Token))
        {
            var now = Stopwatch.GetTimestamp();
            var name = ev.Object?.Metadata.Name;
            if (name == marker.Metadata.Name)
            {
                live.Signal();
                continue;
            }

            if (ev.Type == WatchEventType.Added && name is not null && sent.TryGetValue(name, out var at))
            {
                latencies.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
                if (++seen == count)
                {
                    return;
                }
            }
        }
    })).ToList();

    live.Wait(cts.Token);
    for (var i = 0; i < count; i++)
    {
        var name = $"{tag}-{i:D4}";
        sent[name] = Stopwatch.GetTimestamp();
        await client.CreateAsync(new ConfigMap { Metadata = new ObjectMeta { Name = name, Namespace = "bench-watch" }, Data = new Dictionary<string, string> { ["k"] = "v" } });
        // Each create measured alone, not behind a queue of earlier ones.
        await Task.Delay(1);
    }

    await Task.WhenAll(tasks);
    return [.. latencies];
}

static async Task<double> TimeAsync(Func<Task> action)
{
    var stopwatch = Stopwatch.StartNew();
    await action();
    return stopwatch.Elapsed.TotalMilliseconds;
}

static void Expect(int expected, int actual)
{
    if (expected != actual)
    {
        throw new InvalidOperationException($"expected {expected} items, got {actual}");
    }
}
