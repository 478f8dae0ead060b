using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Etcd.Bench;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Protocol;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Kubernetes.Config;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Federation.Mesh.Bench;
using Google.Protobuf;
using Microsoft.Extensions.Logging;

// kvstoremesh at Cilium's scale-CI profile: the clustermesh-apiserver (the real executable, a child process) mirrors
// N remote clusters, each with its own etcd, into its local etcd. Measures the time from its start until every remote
// is Ready and every cache canary exists, then the lag of churn in the remotes to the local cache (p50/p99), the
// apiserver's CPU (cores used) and peak RSS.
// The remote etcds stand for other clusters' machines: they run with GOMAXPROCS=1 at nice 19 (or in a CPU cgroup, see
// --remote-cpu) and the apiserver and its local etcd (what is measured) at nice -10 (as root), so those go first on
// the 2 shared cores, as they would on machines of their own. The lag target is taken from the remote commit (the
// put's acknowledgement); the lag from the start of the put, which includes the starved remote's own latency, and from
// a watcher of the remote (a sample of 10 remotes) are printed too, with kvstoremesh's own part from its metrics.
// Usage: dotnet run -c Release --project bench/Federation.Mesh.Bench [--quick] [--clusters N] [--churn-rate N] [--churn-seconds N]
//        [--deadline-seconds N] (how long to wait for the initial sync before reporting it missed; default 300)
//        [--remote-cpu nice|idle|SHARES] (how the remotes yield the CPU: nice = every remote thread at nice 19, the
//        default; idle = all remotes in one idle cgroup, which runs only when nothing else wants the CPU; SHARES = one
//        cgroup with these cpu shares against this session's 1024)
//        [--measured-nice N] (the nice value of the apiserver and its local etcd; default -10)
var quick = args.Contains("--quick");
var clusterCount = ArgInt("--clusters") ?? (quick ? 20 : 250);
var scale = quick ? 10 : 1;
var nodesPer = 100 / scale;
var ipsPer = 1000 / scale;
var identitiesPer = 100 / scale;
var servicesPer = 20 / scale;
var churnRate = ArgInt("--churn-rate") ?? 325;
var churnSeconds = ArgInt("--churn-seconds") ?? (quick ? 10 : 30);
var readyTarget = TimeSpan.FromSeconds(60);
const double LagTargetMs = 500;
const double MemoryTargetMiB = 2048;

// The local etcd (the one kvstoremesh writes, and the lab API server's) has its data on tmpfs, like the remotes when
// they fit: the disk is shared with other work on this machine, and fsync latency there would be noise, not kvstoremesh.
// Each etcd preallocates a 64 MiB WAL segment, so more than a few dozen remotes go to disk instead.
var tmpfs = Directory.Exists("/dev/shm") ? Directory.CreateDirectory(Path.Combine("/dev/shm", "federation-mesh-bench-" + Guid.NewGuid().ToString("N")[..8])).FullName : null;
var remotesOnTmpfs = tmpfs is not null && clusterCount * 100L < FreeMiB() / 4;
var originalTmpDir = Environment.GetEnvironmentVariable("TMPDIR");
if (remotesOnTmpfs)
{
    Environment.SetEnvironmentVariable("TMPDIR", "/dev/shm");
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // Let the finally blocks stop every child process.
    e.Cancel = true;
    stop.Cancel();
};

var directory = Directory.CreateTempSubdirectory("federation-mesh-bench").FullName;
var configDirectory = Directory.CreateDirectory(Path.Combine(directory, "clustermesh")).FullName;
Process? apiserver = null;
var remoteCpu = ArgString("--remote-cpu") ?? "nice";
var measuredNice = ArgInt("--measured-nice") ?? -10;
if (measuredNice is < -20 or > 19)
{
    throw new ArgumentException($"--measured-nice must be from -20 to 19, not {measuredNice}");
}

if (measuredNice < 0 && !Environment.IsPrivilegedProcess)
{
    Console.WriteLine($"NOTE: not root, so the apiserver and its local etcd run at nice 0, not {measuredNice}: they compete with the remote etcds for the CPU more than on machines of their own");
    measuredNice = 0;
}

int? remoteShares = remoteCpu switch
{
    "idle" or "nice" => null,
    _ when int.TryParse(remoteCpu, NumberStyles.None, CultureInfo.InvariantCulture, out var shares) && shares is >= 2 and <= 262144 => shares,
    _ => throw new ArgumentException($"--remote-cpu must be idle, nice or cpu shares from 2 to 262144 (1024 = as much as this session), not '{remoteCpu}'"),
};
string? cpuGroupFailure = null;
var cpuGroup = remoteCpu == "nice" ? null : RemoteCpuGroup.TryCreate(remoteShares, out cpuGroupFailure);
if (cpuGroupFailure is not null)
{
    Console.WriteLine($"NOTE: the remote etcds run at nice {RemoteClusters.Nice} instead of in a CPU group of their own: {cpuGroupFailure}");
}

await using var remotes = new RemoteClusters(cpuGroup);
try
{
    Console.WriteLine($"{Environment.ProcessorCount} cores; {(quick ? "quick" : "full")} run: {clusterCount} remote clusters × ({nodesPer} nodes, {ipsPer} ip entries, {identitiesPer} identities, {servicesPer} services); churn {churnRate}/s for {churnSeconds} s");
    Console.WriteLine($"memory before: {FreeMiB()} MiB available");
    await using var kubeEtcd = await EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--quota-backend-bytes=2147483648", .. DataDir(tmpfs, "kube")] }, stop.Token);
    await using var meshEtcd = await EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--quota-backend-bytes=4294967296", "--enable-pprof", .. DataDir(tmpfs, "mesh")] }, stop.Token);
    Console.WriteLine($"local etcd {meshEtcd.ClientEndpoints[0]} (pid {meshEtcd.ProcessId}; /debug/pprof there)");
    if (measuredNice != 0 && meshEtcd.ProcessId is { } meshPid)
    {
        await RemoteClusters.ReniceAsync(meshPid, measuredNice, stop.Token);
    }

    // The apiserver's Kubernetes side: an empty lab API server (kvstoremesh reads nothing from it).
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
            ClusterName = "local",
        },
        logging => logging.SetMinimumLevel(LogLevel.Warning));
    var admin = ca.IssueClient("clustermesh-apiserver", ["system:masters"]);
    var kubeconfig = Path.Combine(directory, "kubeconfig");
    KubeconfigWriter.WriteFile(kubeconfig, new Kubeconfig
    {
        Clusters = [new KubeconfigCluster { Name = "local", Server = lab.BaseUri.GetLeftPart(UriPartial.Authority), CertificateAuthorityData = Encoding.UTF8.GetBytes(ca.CertificatePem) }],
        Users = [new KubeconfigUser { Name = "admin", ClientCertificateData = Encoding.UTF8.GetBytes(admin.CertificatePem), ClientKeyData = Encoding.UTF8.GetBytes(admin.PrivateKeyPem) }],
        Contexts = [new KubeconfigContext { Name = "local", Cluster = "local", User = "admin" }],
        CurrentContext = "local",
    });
    await using var mesh = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. meshEtcd.ClientEndpoints] });

    // Remote etcds (not measured): each cluster needs its own, since identity and ip keys carry no cluster name.
    var startEtcds = Stopwatch.StartNew();
    var startFailure = await remotes.StartAsync(clusterCount, stop.Token);
    var etcdStartSeconds = startEtcds.Elapsed.TotalSeconds;
    Console.WriteLine($"started {remotes.Count} remote etcds (GOMAXPROCS=1, {remotes.Priority}; apiserver and local etcd at nice {measuredNice}; {(remotesOnTmpfs ? "tmpfs" : "disk")} data dirs) in {etcdStartSeconds:0.0} s ({FreeMiB()} MiB available, etcd RSS total {remotes.TotalRssMiB():0} MiB)");
    if (startFailure is not null)
    {
        Console.WriteLine($"NOTE: only {remotes.Count} of {clusterCount} remote etcds could start ({startFailure}); running with {remotes.Count}");
    }

    // Populate (not measured): entries first, then the cluster config and the synced canaries, as an apiserver would.
    var populate = Stopwatch.StartNew();
    await Parallel.ForEachAsync(remotes.Clusters, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = stop.Token }, async (remote, ct) =>
    {
        var puts = new List<(string Key, byte[] Value)>();
        for (var n = 0; n < nodesPer; n++)
        {
            puts.Add((ClusterMeshKeys.Node(remote.Name, NodeName(n)), ClusterMeshJson.Serialize(NodeValue(remote, n, 0))));
        }

        for (var k = 0; k < identitiesPer; k++)
        {
            puts.Add((ClusterMeshKeys.Identity(remote.IdentityRange.First + (uint)k), ClusterMeshJson.Serialize(IdentityValue(remote, k))));
        }

        for (var k = 0; k < ipsPer; k++)
        {
            var ip = IpValue(remote, k, 0, identitiesPer);
            puts.Add((ClusterMeshKeys.Ip(ip.IP), ClusterMeshJson.Serialize(ip)));
        }

        for (var s = 0; s < servicesPer; s++)
        {
            puts.Add((ClusterMeshKeys.Service(remote.Name, "shop", ServiceName(s)), ClusterMeshJson.Serialize(ServiceValue(remote, s, 0))));
        }

        await PutAllAsync(remote.Client, puts, ct);
        var config = new CiliumClusterConfig { Id = remote.Id, Capabilities = new ClusterCapabilities { SyncedCanaries = true, MaxConnectedClusters = 255 } };
        List<(string Key, byte[] Value)> meta = [(ClusterMeshKeys.ClusterConfig(remote.Name), ClusterMeshJson.Serialize(config)), Heartbeat()];
        meta.AddRange(ClusterMeshKindExtensions.All.Select(kind => (ClusterMeshKeys.StateSyncedCanary(kind, remote.Name), Encoding.UTF8.GetBytes(ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow)))));
        await PutAllAsync(remote.Client, meta, ct);
        await File.WriteAllTextAsync(Path.Combine(configDirectory, remote.Name), $"endpoints:\n- {remote.Endpoint}\n", ct);
    });
    var populateSeconds = populate.Elapsed.TotalSeconds;
    Console.WriteLine($"populated {remotes.Count * (nodesPer + ipsPer + identitiesPer + servicesPer)} entries in {populateSeconds:0.0} s (not part of the measured time)");

    // Heartbeats keep every remote alive for the whole run. kvstoremesh expects one a minute (Cilium's interval, and its
    // default) and fails a remote after two silent minutes; one every 30 s is a remote apiserver's load with margin.
    using var heartbeatStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
    var heartbeats = Task.Run(async () =>
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(30));
        try
        {
            while (await timer.WaitForNextTickAsync(heartbeatStop.Token))
            {
                await Parallel.ForEachAsync(remotes.Clusters, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = heartbeatStop.Token }, async (remote, ct) =>
                {
                    var (key, value) = Heartbeat();
                    await remote.Client.PutAsync(key, value, cancellationToken: ct);
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    // (1) the real executable mirrors every remote: time until all are Ready and every local cache canary exists.
    var healthPort = LoopbackPorts.Pick(1)[0];
    var exe = Path.Combine(AppContext.BaseDirectory, "clustermesh-apiserver.dll");
    // Started through nice(1) when the measured processes get a nice value, so every thread of the runtime has it.
    var psi = new ProcessStartInfo(measuredNice != 0 ? "nice" : "dotnet", [.. measuredNice != 0 ? new[] { "-n", measuredNice.ToString(CultureInfo.InvariantCulture), "dotnet" } : [], exe, "--cluster-name", "local", "--cluster-id", "1", "--etcd-endpoints", meshEtcd.ClientEndpoints[0].ToString(),
        "--kubeconfig", kubeconfig, "--context", "local", "--health-listen", $"127.0.0.1:{healthPort}", "--clustermesh-config", configDirectory])
    {
        RedirectStandardOutput = true,
        RedirectStandardError = true,
        UseShellExecute = false,
    };

    // The apiserver's own temp files (the runtime's diagnostic pipes) stay where they would be without this bench.
    psi.Environment["TMPDIR"] = originalTmpDir;
    var started = Stopwatch.StartNew();
    apiserver = Process.Start(psi)!;
    var cpuAtStart = CpuSeconds(apiserver.Id);
    var output = new ConcurrentQueue<string>();
    apiserver.OutputDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
    apiserver.ErrorDataReceived += (_, e) => { if (e.Data is not null) { output.Enqueue(e.Data); } };
    apiserver.BeginOutputReadLine();
    apiserver.BeginErrorReadLine();
    using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{healthPort}/"), Timeout = TimeSpan.FromSeconds(10) };
    var readyAt = new Dictionary<string, double>(StringComparer.Ordinal);
    var canariesNeeded = remotes.Count * ClusterMeshKindExtensions.All.Count;
    double? allReadySeconds = null;
    double? allCanariesSeconds = null;
    var cacheCanaries = 0;
    var synced = true;
    var deadline = TimeSpan.FromSeconds(ArgInt("--deadline-seconds") ?? (quick ? 120 : 300));
    while (allReadySeconds is null || allCanariesSeconds is null)
    {
        stop.Token.ThrowIfCancellationRequested();
        if (apiserver.HasExited)
        {
            throw new InvalidOperationException($"clustermesh-apiserver exited with {apiserver.ExitCode}:\n{string.Join('\n', output.TakeLast(30))}");
        }

        if (started.Elapsed > deadline)
        {
            // Reported as missed; the churn still runs, on a mesh that is catching up.
            Console.WriteLine($"NOT SYNCED after {deadline.TotalSeconds:0} s: {readyAt.Count} of {remotes.Count} remotes Ready with their cache synced, {cacheCanaries} of {canariesNeeded} cache canaries");
            synced = false;
            break;
        }

        var status = await TryGetStatusAsync(http, stop.Token);
        var now = started.Elapsed.TotalSeconds;
        if (status?["kvstoremesh"] is { } kvstoremesh)
        {
            foreach (var remote in kvstoremesh["remotes"]?["clusters"]?.AsArray() ?? [])
            {
                var name = (string?)remote?["name"];
                if (name is not null && (string?)remote?["state"] == "Ready" && CacheSynced(kvstoremesh, name) && !readyAt.ContainsKey(name))
                {
                    readyAt[name] = now;
                }
            }
        }

        if (allReadySeconds is null && readyAt.Count >= remotes.Count)
        {
            allReadySeconds = now;
        }

        if (allCanariesSeconds is null)
        {
            try
            {
                var canaries = await mesh.ListPrefixAsync(ClusterMeshKeys.SyncedPrefix + "/", keysOnly: true, cancellationToken: stop.Token);
                cacheCanaries = canaries.Kvs.Count(kv => kv.Key.ToStringUtf8().Contains("/" + ClusterMeshKeys.CacheRoot + "/", StringComparison.Ordinal));
                if (cacheCanaries >= canariesNeeded)
                {
                    allCanariesSeconds = started.Elapsed.TotalSeconds;
                }
            }
            catch (EtcdException)
            {
                // The local etcd is busy with kvstoremesh's writes: count again at the next poll.
            }
        }

        await Task.Delay(100, stop.Token);
    }

    var syncSeconds = synced ? Math.Max(allReadySeconds!.Value, allCanariesSeconds!.Value) : double.NaN;
    var syncCores = (CpuSeconds(apiserver.Id) - cpuAtStart) / started.Elapsed.TotalSeconds;
    var peakAfterSync = PeakRssMiB(apiserver.Id);
    var cached = new Dictionary<string, long>(StringComparer.Ordinal);
    foreach (var prefix in new[] { ClusterMeshKeys.NodesCachePrefix, ClusterMeshKeys.ServicesCachePrefix, ClusterMeshKeys.IdentitiesCachePrefix, ClusterMeshKeys.IpCachePrefix })
    {
        try
        {
            cached[prefix] = await mesh.CountPrefixAsync(prefix + "/", stop.Token);
        }
        catch (EtcdException)
        {
            cached[prefix] = -1;
        }
    }

    // (2) churn: random changes to ip entries (70 %), nodes (15 %) and services (15 %) in random remotes. The lag is from
    // just before the remote put to the event of that key with that value in a watch on the local cache.
    // Per cache key, the changes put and not yet seen, in put order. kvstoremesh may coalesce quick changes of one key
    // into the last one: an arrival settles the earlier changes of that key as well.
    // Each change is timed twice: from just before its put (what a writer in the remote cluster waits) and from the put's
    // acknowledgement, when the change is committed in the remote etcd (the remote's own slowness left out).
    var pending = new ConcurrentDictionary<string, List<Change>>(StringComparer.Ordinal);
    var lags = new ConcurrentBag<double>();
    var ackLags = new ConcurrentBag<double>();
    var putLatencies = new ConcurrentBag<double>();
    using var churnStop = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
    // A sample of the remotes is watched here too, as kvstoremesh watches them: when a change reaches a watcher of its own
    // etcd is the part of the lag the remote (starved of CPU on this machine) is responsible for.
    var sampled = remotes.Clusters.Where((_, i) => i % Math.Max(1, remotes.Count / 10) == 0).Take(10).ToList();
    var remotePending = new ConcurrentDictionary<string, List<Change>>(StringComparer.Ordinal);
    var remoteWatchers = sampled.Select(remote => Task.Run(async () =>
    {
        var remoteHead = (await remote.Client.GetPrefixAsync("cilium/state/", limit: 1, cancellationToken: stop.Token)).Header.Revision;
        try
        {
            await foreach (var response in remote.Client.WatchPrefixAsync("cilium/state/", remoteHead + 1, cancellationToken: churnStop.Token))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var ev in response.Events)
                {
                    if (remotePending.TryGetValue(remote.Name + "|" + ev.Kv.Key.ToStringUtf8(), out var queued))
                    {
                        var value = ev.Kv.Value.ToStringUtf8();
                        lock (queued)
                        {
                            var seen = queued.FindIndex(c => c.Value == value);
                            foreach (var change in queued.Take(seen + 1))
                            {
                                change.RemoteSeenAt = now;
                            }

                            queued.RemoveRange(0, seen + 1);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    })).ToList();
    var sampledNames = sampled.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
    var syncLagBefore = await HistogramBucketsAsync(http, stop.Token);
    var writeDurationBefore = await HistogramBucketsAsync(http, stop.Token, "federation_etcd_sync_write_duration_seconds");

    var head = (await mesh.GetPrefixAsync(ClusterMeshKeys.CacheRoot + "/", limit: 1, cancellationToken: stop.Token)).Header.Revision;
    var watcher = Task.Run(async () =>
    {
        try
        {
            await foreach (var response in mesh.WatchPrefixAsync(ClusterMeshKeys.CacheRoot + "/", head + 1, cancellationToken: churnStop.Token))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var ev in response.Events)
                {
                    if (ev.Type != Event.Types.EventType.Put || !pending.TryGetValue(ev.Kv.Key.ToStringUtf8(), out var queued))
                    {
                        continue;
                    }

                    var value = ev.Kv.Value.ToStringUtf8();
                    lock (queued)
                    {
                        var seen = queued.FindIndex(c => c.Value == value);
                        foreach (var change in queued.Take(seen + 1))
                        {
                            lags.Add(Stopwatch.GetElapsedTime(change.PutAt, now).TotalMilliseconds);
                            change.SeenAt = now;
                        }

                        queued.RemoveRange(0, seen + 1);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    });

    (double Local, double Remotes, double Bench) OtherCpu() => (
        meshEtcd.ProcessId is { } local ? CpuSeconds(local) : double.NaN,
        remotes.Clusters.Sum(r => r.Server.ProcessId is { } pid ? CpuSeconds(pid) : 0),
        Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds);

    Console.WriteLine($"churn starts {DateTimeOffset.Now:HH:mm:ss}");
    var random = new Random(42);
    var changes = churnRate * churnSeconds;
    var failures = 0;
    var cpuBeforeChurn = CpuSeconds(apiserver.Id);
    var othersBeforeChurn = OtherCpu();
    var waitBeforeChurn = (Apiserver: RunQueueWait(apiserver.Id), Local: RunQueueWait(meshEtcd.ProcessId));
    var churn = Stopwatch.StartNew();
    var inflight = new List<Task>();
    var allChanges = new List<Change>();
    // Enough puts in flight that the rate holds while remote puts are slow (the remotes share 2 cores; p50 up to ~0.7 s).
    using (var slots = new SemaphoreSlim(1024))
    {
        for (var n = 0; n < changes; n++)
        {
            // Pace: change n is due at n / rate seconds.
            var wait = TimeSpan.FromSeconds(n / (double)churnRate) - churn.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, stop.Token);
            }

            var remote = remotes.Clusters[random.Next(remotes.Count)];
            var version = n + 1;
            var pick = random.Next(100);
            var (kind, key, value) = pick switch
            {
                < 70 => Ip(remote, random.Next(ipsPer), version),
                < 85 => NodeChange(remote, random.Next(nodesPer), version),
                _ => Service(remote, random.Next(servicesPer), version),
            };
            if (!ClusterMeshKeys.TryMapToCacheKey(kind, remote.Name, key, out var cacheKey))
            {
                throw new InvalidOperationException($"no cache key for {key}");
            }

            await slots.WaitAsync(stop.Token);
            var list = pending.GetOrAdd(cacheKey, _ => []);
            var change = new Change(Encoding.UTF8.GetString(value), Stopwatch.GetTimestamp()) { Remote = remote, Key = key, CacheKey = cacheKey };
            lock (list)
            {
                list.Add(change);
            }

            allChanges.Add(change);
            if (sampledNames.Contains(remote.Name))
            {
                var remoteList = remotePending.GetOrAdd(remote.Name + "|" + key, _ => []);
                lock (remoteList)
                {
                    remoteList.Add(change);
                }
            }

            inflight.Add(PutAsync(remote, key, value, change));
        }

        await Task.WhenAll(inflight);

        async Task PutAsync(RemoteCluster remote, string key, byte[] value, Change change)
        {
            try
            {
                await remote.Client.PutAsync(key, value, cancellationToken: stop.Token);
                var ackAt = Stopwatch.GetTimestamp();
                change.AckAt = ackAt;
                putLatencies.Add(Stopwatch.GetElapsedTime(change.PutAt, ackAt).TotalMilliseconds);
            }
            catch (EtcdException)
            {
                Interlocked.Increment(ref failures);
            }
            finally
            {
                slots.Release();
            }
        }
    }

    var achievedRate = changes / churn.Elapsed.TotalSeconds;
    var settle = Stopwatch.StartNew();
    while (lags.Count < changes - failures && settle.Elapsed < TimeSpan.FromSeconds(30))
    {
        await Task.Delay(50, stop.Token);
    }

    var churnCores = (CpuSeconds(apiserver.Id) - cpuBeforeChurn) / churn.Elapsed.TotalSeconds;
    var othersAfterChurn = OtherCpu();
    var waitAfterChurn = (Apiserver: RunQueueWait(apiserver.Id), Local: RunQueueWait(meshEtcd.ProcessId));
    var churnWall = churn.Elapsed.TotalSeconds;
    foreach (var change in allChanges)
    {
        // A change seen before its acknowledgement arrived counts as 0 from the commit.
        if (change.SeenAt is { } seenAt && change.AckAt is { } ackAt)
        {
            ackLags.Add(Math.Max(0, Stopwatch.GetElapsedTime(ackAt, seenAt).TotalMilliseconds));
        }
    }

    // A change never seen in the local cache was either overtaken (a later change of its key, applied first by the remote,
    // settled it; or the remote applied two concurrent puts in the other order) or lost: the cache's value of the key,
    // compared with the remote's, tells which.
    var unseen = allChanges.Where(c => c.SeenAt is null && c.AckAt is not null).GroupBy(c => c.CacheKey).ToList();
    var unseenMatching = 0;
    var unseenDiffering = new List<string>();
    foreach (var key in unseen)
    {
        var first = key.First();
        var remoteValue = (await first.Remote.Client.GetAsync(first.Key, cancellationToken: stop.Token))?.Value.ToStringUtf8();
        var cacheValue = (await mesh.GetAsync(first.CacheKey, cancellationToken: stop.Token))?.Value.ToStringUtf8();
        if (remoteValue == cacheValue)
        {
            unseenMatching++;
        }
        else
        {
            unseenDiffering.Add(first.CacheKey);
        }
    }

    var syncLagAfter = await HistogramBucketsAsync(http, stop.Token);
    var writeDurationAfter = await HistogramBucketsAsync(http, stop.Token, "federation_etcd_sync_write_duration_seconds");
    await churnStop.CancelAsync();
    await watcher;
    await Task.WhenAll(remoteWatchers);
    var peak = PeakRssMiB(apiserver.Id);
    await heartbeatStop.CancelAsync();
    await heartbeats;

    var report = new Report();
    report.Add("start → remote Ready and cache synced", $"{readyAt.Count} of {remotes.Count} clusters", readyAt.Count == 0 ? [double.NaN] : [.. readyAt.Values.Select(s => s * 1000)], "ms");
    report.Add("start → all Ready + all cache canaries", $"{remotes.Count} clusters, {remotes.Count * (nodesPer + ipsPer + identitiesPer + servicesPer)} entries", [synced ? syncSeconds * 1000 : double.NaN], "ms");
    report.Add("churn lag (remote put → local cache event)", $"{achievedRate:0}/s for {churnSeconds} s", lags.IsEmpty ? [double.NaN] : [.. lags], "ms");
    report.Add("churn lag (remote commit acknowledged → local cache event)", $"{achievedRate:0}/s for {churnSeconds} s", ackLags.IsEmpty ? [double.NaN] : [.. ackLags], "ms");
    var remoteDelivery = allChanges.Where(c => c.RemoteSeenAt is not null).Select(c => Stopwatch.GetElapsedTime(c.PutAt, c.RemoteSeenAt!.Value).TotalMilliseconds).ToList();
    var fromRemoteWatch = allChanges.Where(c => c.RemoteSeenAt is not null && c.SeenAt is not null)
        .Select(c => Math.Max(0, Stopwatch.GetElapsedTime(c.RemoteSeenAt!.Value, c.SeenAt!.Value).TotalMilliseconds)).ToList();
    report.Add("churn lag (event at a watcher of the remote → local cache event; 10 sampled remotes)", $"{fromRemoteWatch.Count} changes", fromRemoteWatch.Count == 0 ? [double.NaN] : fromRemoteWatch, "ms");
    report.Add("remote put → event at a watcher of that remote (10 sampled remotes)", $"{remoteDelivery.Count} changes", remoteDelivery.Count == 0 ? [double.NaN] : remoteDelivery, "ms");
    report.Add("remote put (the generator's write to a remote etcd)", $"{putLatencies.Count} puts", putLatencies.IsEmpty ? [double.NaN] : [.. putLatencies], "ms");
    report.Add("apiserver CPU, start → synced", "cores (CPU s / wall s)", [syncCores], "cores");
    report.Add("apiserver CPU, churn", "cores (CPU s / wall s)", [churnCores], "cores");
    report.Add("apiserver peak RSS (VmHWM)", "after sync / after churn", [peakAfterSync, peak], "MiB");
    report.Print();
    Console.WriteLine();
    if (remotes.Count < clusterCount)
    {
        Console.WriteLine($"NOTE: ran with {remotes.Count} of the {clusterCount} requested clusters");
    }

    Console.WriteLine($"cached: {string.Join(", ", cached.Select(c => $"{c.Value} {c.Key[(ClusterMeshKeys.CacheRoot.Length + 1)..^3]}"))} (expected {remotes.Count * nodesPer} nodes, {remotes.Count * servicesPer} services, {remotes.Count * identitiesPer} identities, {remotes.Count * ipsPer} ip)");
    Console.WriteLine($"populate (not measured): {remotes.Count} etcds started in {etcdStartSeconds:0.0} s ({(remotesOnTmpfs ? "tmpfs" : "disk")} data dirs), populated in {populateSeconds:0.0} s");
    if (unseen.Count > 0)
    {
        Console.WriteLine($"changes not seen in the local cache: {unseen.Sum(k => k.Count())} on {unseen.Count} keys; the cache equals the remote on {unseenMatching} of those keys (overtaken, not lost)"
            + (unseenDiffering.Count == 0 ? "" : $"; DIFFERS on {unseenDiffering.Count}: {string.Join(", ", unseenDiffering.Take(5))}"));
    }

    Console.WriteLine($"churn: {lags.Count} of {changes} changes seen, {failures} puts failed; ready: all Ready at {Seconds(allReadySeconds)}, all cache canaries at {Seconds(allCanariesSeconds)}");
    Console.WriteLine($"target all ready ≤ {readyTarget.TotalSeconds:0} s: {syncSeconds:0.0} s — {(synced && syncSeconds <= readyTarget.TotalSeconds ? "met" : "missed")}");
    // The target is the lag from the change in the remote etcd: from its commit (the put's acknowledgement), not from
    // the start of a put that waits on a remote etcd starved of CPU by 249 others on this machine (shown above as well).
    var p99 = ackLags.IsEmpty ? double.NaN : Stats.Percentile([.. ackLags], 0.99);
    var p99FromPut = lags.IsEmpty ? double.NaN : Stats.Percentile([.. lags], 0.99);
    Console.WriteLine($"target churn lag p99 ≤ {LagTargetMs:0} ms (from the remote commit): {p99:0.0} ms — {(p99 <= LagTargetMs && ackLags.Count >= (changes - failures) * 0.99 ? "met" : "missed")}; from the start of the remote put: {p99FromPut:0.0} ms");
    Console.WriteLine($"target peak memory ≤ {MemoryTargetMiB:0} MiB: {peak:0} MiB — {(peak <= MemoryTargetMiB ? "met" : "missed")}");
    Console.WriteLine("(2 shared cores: the remote etcds, the local etcd and this bench run on the same cores as the apiserver)");
    Console.WriteLine($"waiting for a CPU while runnable during churn (summed over threads, per wall second): apiserver {RunQueueWaitBetween(waitBeforeChurn.Apiserver, waitAfterChurn.Apiserver) / churnWall * 1000:0} ms/s, local etcd {RunQueueWaitBetween(waitBeforeChurn.Local, waitAfterChurn.Local) / churnWall * 1000:0} ms/s");
    Console.WriteLine($"CPU during churn (cores): apiserver {churnCores:0.00}, local etcd {(othersAfterChurn.Local - othersBeforeChurn.Local) / churnWall:0.00}, {remotes.Count} remote etcds {(othersAfterChurn.Remotes - othersBeforeChurn.Remotes) / churnWall:0.00}, this bench {(othersAfterChurn.Bench - othersBeforeChurn.Bench) / churnWall:0.00}");

    // Where the lag comes from: the lag by when the change was made (a backlog grows, a stall is a bump), and the
    // local etcd's own account of slow applies and commits.
    var churnStart = allChanges.Count > 0 ? allChanges[0].PutAt : 0;
    var windows = allChanges
        .Where(c => c.SeenAt is not null)
        .GroupBy(c => (int)(Stopwatch.GetElapsedTime(churnStart, c.PutAt).TotalSeconds / 5))
        .OrderBy(g => g.Key)
        .Select(g =>
        {
            var window = g.Select(c => Stopwatch.GetElapsedTime(c.PutAt, c.SeenAt!.Value).TotalMilliseconds).ToList();
            return $"{g.Key * 5}-{(g.Key * 5) + 5} s: p50 {Stats.Percentile(window, 0.5):0} ms, p99 {Stats.Percentile(window, 0.99):0} ms";
        });
    Console.WriteLine($"churn lag by when the change was made: {string.Join("; ", windows)}");
    Console.WriteLine($"kvstoremesh's own part (federation_etcd_sync_lag_seconds of its cache stores during the churn: change received → written in the local etcd): {HistogramSummary(syncLagBefore, syncLagAfter)}; of which the writes to the local etcd (federation_etcd_sync_write_duration_seconds): {HistogramSummary(writeDurationBefore, writeDurationAfter)}");
    try
    {
        using var metricsHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var metrics = await metricsHttp.GetStringAsync(new Uri(meshEtcd.MetricsEndpoint, "metrics"), stop.Token);
        string[] wanted = ["etcd_server_slow_apply_total", "etcd_server_slow_read_indexes_total", "etcd_server_proposals_pending", "etcd_server_proposals_failed_total",
            "etcd_server_proposals_committed_total", "etcd_server_proposals_applied_total", "etcd_disk_backend_commit_duration_seconds_sum", "etcd_disk_backend_commit_duration_seconds_count",
            "etcd_mvcc_db_total_size_in_bytes", "etcd_debugging_lease_granted_total", "etcd_debugging_mvcc_keys_total", "etcd_network_client_grpc_received_bytes_total"];
        var lines = metrics.Split('\n').Where(l => wanted.Any(w => l.StartsWith(w + " ", StringComparison.Ordinal) || l.StartsWith(w + "{", StringComparison.Ordinal)));
        Console.WriteLine($"local etcd: {string.Join(", ", lines)}");
        var slowLog = meshEtcd.LogTail.Split('\n').Where(l => l.Contains("took too long", StringComparison.Ordinal)).ToList();
        Console.WriteLine($"local etcd log (last lines kept): {slowLog.Count} 'took too long'; last: {slowLog.LastOrDefault()}");
    }
    catch (HttpRequestException ex)
    {
        Console.WriteLine($"local etcd metrics unavailable: {ex.Message}");
    }

    var warnings = output.Where(line => line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)).ToList();
    Console.WriteLine($"apiserver warnings/errors logged: {warnings.Count}");
    foreach (var line in warnings.Take(5))
    {
        Console.WriteLine($"  {line}");
    }
}
catch (Exception ex) when (ex is EtcdException or TimeoutException or InvalidOperationException or IOException or HttpRequestException or OperationCanceledException)
{
    // Caught rather than left unhandled so that every child process is stopped on the way out.
    Console.WriteLine($"bench failed: {ex}");
    Environment.ExitCode = 1;
}
finally
{
    if (apiserver is { HasExited: false })
    {
        apiserver.Kill(entireProcessTree: true);
        await apiserver.WaitForExitAsync(CancellationToken.None);
    }

    apiserver?.Dispose();
    Directory.Delete(directory, recursive: true);

    // The local etcds are disposed (await using in the try block) before this runs.
    if (tmpfs is not null)
    {
        Directory.Delete(tmpfs, recursive: true);
    }
}

(ClusterMeshKind Kind, string Key, byte[] Value) Ip(RemoteCluster remote, int k, int version)
{
    var ip = IpValue(remote, k, version, identitiesPer);
    return (ClusterMeshKind.Ips, ClusterMeshKeys.Ip(ip.IP), ClusterMeshJson.Serialize(ip));
}

static (ClusterMeshKind Kind, string Key, byte[] Value) NodeChange(RemoteCluster remote, int n, int version)
    => (ClusterMeshKind.Nodes, ClusterMeshKeys.Node(remote.Name, NodeName(n)), ClusterMeshJson.Serialize(NodeValue(remote, n, version)));

static (ClusterMeshKind Kind, string Key, byte[] Value) Service(RemoteCluster remote, int s, int version)
    => (ClusterMeshKind.Services, ClusterMeshKeys.Service(remote.Name, "shop", ServiceName(s)), ClusterMeshJson.Serialize(ServiceValue(remote, s, version)));

string? ArgString(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int? ArgInt(string name) => ArgString(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;

// The fixture's --data-dir is overridden by a later one (etcd's flags: the last one wins).
static string[] DataDir(string? tmpfs, string name) => tmpfs is null ? [] : ["--data-dir=" + Path.Combine(tmpfs, name)];

static string Seconds(double? seconds) => seconds is { } s ? s.ToString("0.0 s", CultureInfo.InvariantCulture) : "never (within the deadline)";

static string NodeName(int n) => $"node-{n:D3}";

static string ServiceName(int s) => $"svc-{s:D3}";

static (string Key, byte[] Value) Heartbeat() => (ClusterMeshKeys.Heartbeat, Encoding.UTF8.GetBytes(ClusterMeshTimestamp.Format(DateTimeOffset.UtcNow)));

// Churn changes the boot ID (a restarted agent), so every version is a distinct value.
static Node NodeValue(RemoteCluster remote, int n, int version) => new()
{
    Name = NodeName(n),
    Cluster = remote.Name,
    ClusterId = remote.Id,
    IPAddresses = [new NodeAddress { Type = "InternalIP", IP = $"172.16.{remote.Id}.{n + 1}" }],
    IPv4AllocCidr = NodeCidr.Create($"10.{remote.Id}.{n}.0", 24),
    IPv4HealthIP = $"10.{remote.Id}.{n}.10",
    Source = "custom-resource",
    Labels = ImmutableDictionary<string, string>.Empty.Add("kubernetes.io/hostname", NodeName(n)),
    BootId = $"boot-{version}",
};

static IdentityLabels IdentityValue(RemoteCluster remote, int k) => IdentityLabels.Create(
[
    new IdentityLabel("k8s", "app", $"app-{k}"),
    new IdentityLabel("k8s", "io.kubernetes.pod.namespace", "shop"),
]).WithCluster(remote.Name);

// Churn moves the pod to another identity of its cluster and records the version in its metadata.
static IPIdentityPair IpValue(RemoteCluster remote, int k, int version, int identities) => new()
{
    IP = $"10.{remote.Id}.{k / 250}.{(k % 250) + 1}",
    HostIP = $"172.16.{remote.Id}.{(k % 100) + 1}",
    Id = remote.IdentityRange.First + (uint)((k + version) % identities),
    Metadata = version == 0 ? string.Empty : $"v{version}",
    K8sNamespace = "shop",
    K8sPodName = $"pod-{k:D4}",
};

// Churn changes one backend port (a rollout).
static ClusterService ServiceValue(RemoteCluster remote, int s, int version)
{
    var backends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty;
    for (var b = 0; b < 5; b++)
    {
        backends = backends.Add($"10.{remote.Id}.{200 + (s / 50)}.{(s % 50 * 5) + b + 1}", ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = (ushort)(8080 + (b == 0 ? version % 50_000 : 0)) }));
    }

    return new ClusterService
    {
        Cluster = remote.Name,
        Namespace = "shop",
        Name = ServiceName(s),
        ClusterId = remote.Id,
        Frontends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty.Add($"172.20.{remote.Id}.{s + 1}", ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = 80 })),
        Backends = backends,
        Shared = true,
    };
}

static async Task PutAllAsync(IEtcdClient client, List<(string Key, byte[] Value)> puts, CancellationToken cancellationToken)
{
    const int Batch = 100;
    for (var start = 0; start < puts.Count; start += Batch)
    {
        var txn = new TxnRequest();
        foreach (var (key, value) in puts.Skip(start).Take(Batch))
        {
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value) } });
        }

        await client.TxnAsync(txn, cancellationToken);
    }
}

// The buckets (le → cumulative count) of one of the apiserver's sync store histograms, summed over kvstoremesh's cache stores.
static async Task<SortedDictionary<double, long>> HistogramBucketsAsync(HttpClient http, CancellationToken cancellationToken, string metric = "federation_etcd_sync_lag_seconds")
{
    var buckets = new SortedDictionary<double, long>();
    string text;
    try
    {
        text = await http.GetStringAsync("metrics", cancellationToken);
    }
    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
    {
        return buckets;
    }

    foreach (var line in text.Split('\n'))
    {
        if (!line.StartsWith(metric + "_bucket{", StringComparison.Ordinal) || !line.Contains("store=\"kvstoremesh/", StringComparison.Ordinal)
            || line.Contains("/configs\"", StringComparison.Ordinal))
        {
            continue;
        }

        var le = line[(line.IndexOf("le=\"", StringComparison.Ordinal) + 4)..];
        le = le[..le.IndexOf('"', StringComparison.Ordinal)];
        var bound = le == "+Inf" ? double.PositiveInfinity : double.Parse(le, CultureInfo.InvariantCulture);
        var count = long.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
        buckets[bound] = buckets.GetValueOrDefault(bound) + count;
    }

    return buckets;
}

// p50 and p99 as the bucket bounds they fall under, from the difference of two scrapes.
static string HistogramSummary(SortedDictionary<double, long> before, SortedDictionary<double, long> after)
{
    var delta = after.ToDictionary(b => b.Key, b => b.Value - before.GetValueOrDefault(b.Key));
    if (!delta.TryGetValue(double.PositiveInfinity, out var total) || total <= 0)
    {
        return "no samples (metric not found)";
    }

    string Under(double q) => delta.OrderBy(b => b.Key).First(b => b.Value >= q * total).Key is var bound && double.IsPositiveInfinity(bound) ? "> 10 s" : $"≤ {bound * 1000:0.#} ms";
    return $"{total} writes, p50 {Under(0.5)}, p99 {Under(0.99)}";
}

static bool CacheSynced(JsonNode kvstoremesh, string cluster)
{
    var kinds = kvstoremesh["cache"]?[cluster]?["kinds"]?.AsObject();
    return kinds is { Count: 4 } && kinds.All(kind => (bool?)kind.Value?["synced"] == true);
}

static async Task<JsonNode?> TryGetStatusAsync(HttpClient http, CancellationToken cancellationToken)
{
    try
    {
        return JsonNode.Parse(await http.GetStringAsync("status", cancellationToken));
    }
    catch (HttpRequestException)
    {
        return null;
    }
    catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
    {
        // A /status slower than the client timeout while the apiserver is busy: poll again.
        return null;
    }
}

// utime + stime from /proc/<pid>/stat, in seconds (USER_HZ is 100 on Linux).
static double CpuSeconds(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
}

// Time each of the process's threads has spent runnable but waiting for a CPU (schedstat's second field, seconds).
static Dictionary<string, double> RunQueueWait(int? pid)
{
    var waits = new Dictionary<string, double>(StringComparer.Ordinal);
    if (pid is null)
    {
        return waits;
    }

    foreach (var task in Directory.GetDirectories($"/proc/{pid}/task"))
    {
        try
        {
            var fields = File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ');
            waits[Path.GetFileName(task)] = long.Parse(fields[1], CultureInfo.InvariantCulture) / 1e9;
        }
        catch (IOException)
        {
            // The thread ended meanwhile.
        }
    }

    return waits;
}

// The wait between two samples, summed over threads: a thread's growth since the first sample, or all of it for a thread
// started since. (A thread that ended in between is missing from the second sample, so its wait is not counted.)
static double RunQueueWaitBetween(Dictionary<string, double> before, Dictionary<string, double> after)
    => after.Sum(thread => thread.Value - before.GetValueOrDefault(thread.Key));

// VmHWM: the peak resident set of the process.
static double PeakRssMiB(int pid) => StatusKiB(pid, "VmHWM:") / 1024;

static double StatusKiB(int pid, string field)
{
    foreach (var line in File.ReadLines($"/proc/{pid}/status"))
    {
        if (line.StartsWith(field, StringComparison.Ordinal))
        {
            return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        }
    }

    return double.NaN;
}

static long FreeMiB()
{
    foreach (var line in File.ReadLines("/proc/meminfo"))
    {
        if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
    }

    return -1;
}

/// <summary>One churn change: its value, when its put started, was acknowledged, and was seen in the local cache.</summary>
internal sealed class Change(string value, long putAt)
{
    public required RemoteCluster Remote { get; init; }

    public required string Key { get; init; }

    public required string CacheKey { get; init; }

    public string Value { get; } = value;

    public long PutAt { get; } = putAt;

    public long? AckAt { get; set; }

    public long? SeenAt { get; set; }

    public long? RemoteSeenAt { get; set; }
}
