using System.Collections.Concurrent;
using System.Diagnostics;
using Federation.Etcd.Protocol;
using Federation.Etcd.Store;
using Federation.Etcd.Tests.Infrastructure;
using Google.Protobuf;

namespace Federation.Etcd.Bench;

internal static class Workloads
{
    /// <summary>Latency from just before a put to its event at each watcher, in milliseconds.</summary>
    public static async Task<List<double>> WatchLatencyAsync(IEtcdClient writer, IEtcdClient watchClient, int watchers, int puts)
    {
        var prefix = $"bench/watch/{watchers}/{Guid.NewGuid():N}/";
        var sent = new ConcurrentDictionary<string, long>();
        var latencies = new ConcurrentBag<double>();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        var ready = new CountdownEvent(watchers);
        var start = (await writer.PutAsync(prefix + "start", "s")).Header.Revision;
        var tasks = Enumerable.Range(0, watchers).Select(_ => Task.Run(async () =>
        {
            var seen = 0;
            // Starting at the marker's revision gives each watcher a first event, so it is known to be live.
            await foreach (var response in watchClient.WatchPrefixAsync(prefix, start, cancellationToken: cts.Token))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var ev in response.Events)
                {
                    var key = ev.Kv.Key.ToStringUtf8();
                    if (key.EndsWith("start", StringComparison.Ordinal))
                    {
                        ready.Signal();
                        continue;
                    }

                    latencies.Add(Stopwatch.GetElapsedTime(sent[key], now).TotalMilliseconds);
                    if (++seen == puts)
                    {
                        return;
                    }
                }
            }
        })).ToList();

        ready.Wait(cts.Token);
        var value = ByteString.CopyFrom(new byte[300]);
        for (var i = 0; i < puts; i++)
        {
            var key = $"{prefix}{i:D5}";
            sent[key] = Stopwatch.GetTimestamp();
            await writer.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = value });
            // Let the event drain so each put is measured alone, not behind a queue of earlier ones.
            await Task.Delay(1);
        }

        await Task.WhenAll(tasks);
        return [.. latencies];
    }

    /// <summary>The same measure through `etcdctl watch --prefix`, reading its stdout.</summary>
    public static async Task<List<double>> EtcdctlWatchLatencyAsync(EtcdServer server, IEtcdClient writer, int puts)
    {
        var prefix = $"bench/etcdctl-watch/{Guid.NewGuid():N}/";
        var psi = new ProcessStartInfo("etcdctl", ["--endpoints", server.ClientEndpoints[0].ToString(), "watch", "--prefix", prefix])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.Environment["ETCDCTL_API"] = "3";
        using var process = Process.Start(psi)!;
        var sent = new ConcurrentDictionary<string, long>();
        var latencies = new List<double>();
        var value = ByteString.CopyFrom(new byte[300]);
        try
        {
            // etcdctl prints "PUT", the key, the value: wait until a probe key shows it is watching.
            var probe = prefix + "probe";
            var readyLine = Task.Run(async () =>
            {
                while (await process.StandardOutput.ReadLineAsync() is { } line)
                {
                    if (line == probe)
                    {
                        return;
                    }
                }
            });
            while (!readyLine.IsCompleted)
            {
                await writer.PutAsync(probe, "p");
                await Task.WhenAny(readyLine, Task.Delay(100));
            }

            var reader = Task.Run(async () =>
            {
                while (latencies.Count < puts && await process.StandardOutput.ReadLineAsync() is { } line)
                {
                    var now = Stopwatch.GetTimestamp();
                    if (sent.TryGetValue(line, out var at))
                    {
                        latencies.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
                    }
                }
            });

            for (var i = 0; i < puts; i++)
            {
                var key = $"{prefix}{i:D5}";
                sent[key] = Stopwatch.GetTimestamp();
                await writer.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = value });
                await Task.Delay(1);
            }

            await reader.WaitAsync(TimeSpan.FromMinutes(2));
            return latencies;
        }
        finally
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    /// <summary>Puts per second with a fixed number of requests in flight, and each put's round trip in milliseconds.</summary>
    public static async Task<(double PerSecond, List<double> LatenciesMs)> PutThroughputAsync(IEtcdClient client, int inFlight, int total)
    {
        var prefix = $"bench/puts/{inFlight}/";
        var value = ByteString.CopyFrom(new byte[300]);
        var next = -1;
        var latencies = new ConcurrentBag<double>();
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                var started = Stopwatch.GetTimestamp();
                await client.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"{prefix}{i:D6}"), Value = value });
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            }
        })));
        return (total / stopwatch.Elapsed.TotalSeconds, [.. latencies]);
    }

    /// <summary>Keys per second a <see cref="SyncStore"/> writes for an initial sync of <paramref name="total"/> keys (to its canary).</summary>
    public static async Task<double> SyncStoreThroughputAsync(IEtcdClient client, int workers, int batchSize, int total)
    {
        var prefix = $"bench/syncstore/{workers}-{batchSize}/";
        var value = new byte[300];
        await using var store = new SyncStore(client, new SyncStoreOptions
        {
            Name = "bench",
            OwnedPrefix = prefix,
            SyncedCanaryKey = $"bench/synced/{workers}-{batchSize}",
            Workers = workers,
            MaxBatchSize = batchSize,
        });
        var stopwatch = Stopwatch.StartNew();
        await store.StartAsync(CancellationToken.None);
        for (var i = 0; i < total; i++)
        {
            store.Upsert($"{prefix}{i:D6}", value);
        }

        store.MarkInitialSyncDone();
        await store.Synced;
        var rate = total / stopwatch.Elapsed.TotalSeconds;
        await store.StopAsync(revokeLeases: true, CancellationToken.None);
        return rate;
    }

    /// <summary>Writes N keys in transactions of 100 puts.</summary>
    public static async Task PopulateAsync(IEtcdClient client, string prefix, int count, int valueBytes)
    {
        var value = ByteString.CopyFrom(Enumerable.Repeat((byte)'x', valueBytes).ToArray());
        const int Batch = 100;
        var batches = Enumerable.Range(0, (count + Batch - 1) / Batch);
        await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (b, ct) =>
        {
            var txn = new TxnRequest();
            for (var i = b * Batch; i < Math.Min(count, (b + 1) * Batch); i++)
            {
                txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8($"{prefix}{i:D7}"), Value = value } });
            }

            await client.TxnAsync(txn, ct);
        });
    }

    public static async Task EtcdctlGetPrefixAsync(EtcdServer server, string prefix)
    {
        var psi = new ProcessStartInfo("etcdctl", ["--endpoints", server.ClientEndpoints[0].ToString(), "get", "--prefix", prefix, "--keys-only=false"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.Environment["ETCDCTL_API"] = "3";
        using var process = Process.Start(psi)!;
        // Read and discard, as a redirect to /dev/null would.
        await process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"etcdctl exited with {process.ExitCode}");
        }
    }

    public static async Task<double> TimeAsync(Func<Task> action)
    {
        var stopwatch = Stopwatch.StartNew();
        await action();
        return stopwatch.Elapsed.TotalSeconds;
    }

    public static void Expect(int expected, int actual)
    {
        if (expected != actual)
        {
            throw new InvalidOperationException($"expected {expected} keys, listed {actual}");
        }
    }
}
