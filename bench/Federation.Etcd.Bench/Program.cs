using System.Globalization;
using Federation.Etcd;
using Federation.Etcd.Bench;
using Federation.Etcd.Tests.Infrastructure;

// Benchmarks of the etcd client against one real etcd on loopback, side by side with etcdctl where
// etcdctl can do the same work. Prints markdown tables. Usage: dotnet run -c Release --project bench/Federation.Etcd.Bench [--quick]
var quick = args.Contains("--quick");
var listKeys = quick ? 20_000 : 100_000;
var rounds = quick ? 3 : 5;

var report = new Report();
var listRatio = double.NaN;
var listMedianMs = double.NaN;

// etcd fsyncs its WAL on every put. On this shared machine the disk's fsync time dominates and varies,
// so every workload runs against an etcd whose WAL is on tmpfs (what the client costs), and the
// write-bound ones run again against an etcd wholly on the real disk (what a user sees end to end).
foreach (var medium in new[] { "tmpfs", "disk" })
{
    string[] walOnTmpfs = medium == "tmpfs" ? [$"--wal-dir=/dev/shm/federation-bench-wal-{Guid.NewGuid():N}"] : [];
    await using var cleanup = new WalCleanup(walOnTmpfs);
    await using var server = await EtcdServer.StartAsync(new EtcdServerOptions { ExtraArguments = ["--quota-backend-bytes=8589934592", .. walOnTmpfs] });
    await using var client = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. server.ClientEndpoints] });
    await using var watchClient = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. server.ClientEndpoints] });
    Console.WriteLine($"etcd {(await client.StatusAsync()).Version} on {server.ClientEndpoints[0]}, WAL on {medium}; {Environment.ProcessorCount} cores; {(quick ? "quick" : "full")} run");

    // Warm-up: JIT and connection set-up stay out of the measured percentiles.
    await Workloads.WatchLatencyAsync(client, watchClient, 10, puts: 200);
    await Workloads.PutThroughputAsync(client, 64, total: 1_000);

    // (1) put -> event latency with 1, 10, 100 watchers on one client (one shared stream).
    foreach (var watchers in new[] { 1, 10, 100 })
    {
        var latencies = await Workloads.WatchLatencyAsync(client, watchClient, watchers, puts: quick ? 200 : 1000);
        report.Add($"watch put→event ({medium})", $"{watchers} watchers", latencies, "ms");
    }

    var etcdctlWatch = await Workloads.EtcdctlWatchLatencyAsync(server, client, puts: quick ? 100 : 300);
    report.Add($"watch put→event ({medium})", "1 watcher, etcdctl watch", etcdctlWatch, "ms");

    // (2) puts/s with 1 and 64 in flight.
    foreach (var inFlight in new[] { 1, 64 })
    {
        var (rate, latencies) = await Workloads.PutThroughputAsync(client, inFlight, total: quick ? 2_000 : (inFlight == 1 ? 5_000 : 20_000));
        report.AddRate($"puts ({medium})", $"{inFlight} in flight", rate);
        if (inFlight == 1)
        {
            // The floor under put→event: the put's own round trip.
            report.Add($"put round trip ({medium})", "1 in flight", latencies, "ms");
        }
    }

    // (3) SyncStore initial sync: one key per request (as before batching) against transactions of 64 keys.
    foreach (var batchSize in new[] { 1, 64 })
    {
        var rate = await Workloads.SyncStoreThroughputAsync(client, workers: 64, batchSize, total: quick ? 5_000 : 20_000);
        report.AddRate($"SyncStore initial sync ({medium})", $"64 workers, {batchSize} key(s) per request", rate);
    }

    if (medium == "disk")
    {
        break;
    }

    await RunListAsync(server, client);
}

report.Print();
Console.WriteLine();
Console.WriteLine($"list ratio ours/etcdctl (medians): {listRatio.ToString("0.00", CultureInfo.InvariantCulture)} (target ≤ 1.20)");
foreach (var medium in new[] { "tmpfs", "disk" })
{
    var p99With10 = report.Percentile($"watch put→event ({medium})", "10 watchers", 0.99);
    var p99Etcdctl = report.Percentile($"watch put→event ({medium})", "1 watcher, etcdctl watch", 0.99);
    Console.WriteLine($"watch p99 with 10 watchers, etcd on {medium}: {p99With10.ToString("0.00", CultureInfo.InvariantCulture)} ms (target ≤ 2 ms; etcdctl with 1 watcher: {p99Etcdctl.ToString("0.00", CultureInfo.InvariantCulture)} ms)");
}

Console.WriteLine($"list of {listKeys} keys, median: {listMedianMs.ToString("0", CultureInfo.InvariantCulture)} ms (target ≤ 1000 ms)");
return;

async Task RunListAsync(EtcdServer server, EtcdClient client)
{
    // (3) list of N keys with 300-byte values, ours vs etcdctl get --prefix.
    await Workloads.PopulateAsync(client, "bench/list/", listKeys, valueBytes: 300);
    var ours = new List<double>();
    var oursPaged = new List<double>();
    var etcdctl = new List<double>();
    for (var i = 0; i < rounds; i++)
    {
        ours.Add(await Workloads.TimeAsync(async () => Workloads.Expect(listKeys, (await client.GetPrefixAsync("bench/list/")).Kvs.Count)));
        oursPaged.Add(await Workloads.TimeAsync(async () => Workloads.Expect(listKeys, (await client.ListPrefixAsync("bench/list/", pageSize: 10_000)).Kvs.Count)));
        etcdctl.Add(await Workloads.TimeAsync(() => Workloads.EtcdctlGetPrefixAsync(server, "bench/list/")));
    }

    report.Add($"list {listKeys / 1000}k×300B", "ours, one Range", ours.Select(s => s * 1000).ToList(), "ms");
    report.Add($"list {listKeys / 1000}k×300B", "ours, pages of 10k at one revision", oursPaged.Select(s => s * 1000).ToList(), "ms");
    report.Add($"list {listKeys / 1000}k×300B", "etcdctl get --prefix (to /dev/null)", etcdctl.Select(s => s * 1000).ToList(), "ms");
    listRatio = Stats.Median(ours) / Stats.Median(etcdctl);
    listMedianMs = Stats.Median(ours) * 1000;
}

/// <summary>Removes the tmpfs WAL directory after its etcd is gone.</summary>
internal sealed class WalCleanup(string[] walArguments) : IAsyncDisposable
{
    public ValueTask DisposeAsync()
    {
        foreach (var argument in walArguments)
        {
            var directory = argument["--wal-dir=".Length..];
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }

        return ValueTask.CompletedTask;
    }
}
