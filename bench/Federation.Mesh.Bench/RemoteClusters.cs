using System.Globalization;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Tests.Infrastructure;

namespace Federation.Mesh.Bench;

/// <summary>One remote cluster: its own etcd (identity and ip keys carry no cluster name) and a client to it.</summary>
internal sealed class RemoteCluster(string name, uint id, EtcdServer server, EtcdClient client)
{
    public string Name { get; } = name;

    public uint Id { get; } = id;

    public IdentityRange IdentityRange { get; } = ClusterIdentity.GetIdentityRange(id);

    public EtcdServer Server { get; } = server;

    public EtcdClient Client { get; } = client;

    public Uri Endpoint => Server.ClientEndpoints[0];
}

/// <summary>The remote clusters' etcds, started in parallel; disposing stops every one of them.</summary>
internal sealed class RemoteClusters : IAsyncDisposable
{
    private const int Parallelism = 8;

    // Stop starting etcds while this much memory is left for the apiserver and the rest of the machine.
    private const long ReserveMiB = 4096;

    private readonly List<RemoteCluster> _clusters = [];
    private readonly Lock _gate = new();

    public IReadOnlyList<RemoteCluster> Clusters
    {
        get
        {
            lock (_gate)
            {
                return [.. _clusters.OrderBy(c => c.Id)];
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _clusters.Count;
            }
        }
    }

    /// <summary>Starts up to <paramref name="count"/> etcds (cluster IDs 2, 3, …); returns why it stopped early, or null.</summary>
    public async Task<string?> StartAsync(int count, CancellationToken cancellationToken)
    {
        string? failure = null;
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = failed.Token }, async (i, ct) =>
            {
                if (AvailableMiB() < ReserveMiB)
                {
                    failure ??= $"less than {ReserveMiB} MiB of memory left";
                    await failed.CancelAsync();
                    return;
                }

                EtcdServer server;
                try
                {
                    server = await EtcdServer.StartAsync(
                        new EtcdServerOptions
                        {
                            // Small: a remote holds about a thousand keys; few raft entries kept in memory.
                            // A slower raft tick: 250 idle single-member etcds ticking every 100 ms cost this shared machine CPU that
                            // remote clusters, on their own machines, would not take from the apiserver.
                            ExtraArguments = ["--quota-backend-bytes=268435456", "--snapshot-count=5000", "--heartbeat-interval=500", "--election-timeout=5000"],
                        },
                        ct);
                }
                catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException)
                {
                    failure ??= ex.Message.Split('\n')[0];
                    await failed.CancelAsync();
                    return;
                }

                var id = (uint)(i + 2);
                var client = EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. server.ClientEndpoints] });
                lock (_gate)
                {
                    _clusters.Add(new RemoteCluster(string.Create(CultureInfo.InvariantCulture, $"remote-{id:D3}"), id, server, client));
                }
            });
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        return failure;
    }

    /// <summary>Sum of the etcds' resident sets.</summary>
    public double TotalRssMiB()
    {
        double total = 0;
        foreach (var cluster in Clusters)
        {
            if (cluster.Server.ProcessId is { } pid)
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        total += double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                    }
                }
            }
        }

        return total;
    }

    public async ValueTask DisposeAsync()
    {
        List<RemoteCluster> clusters;
        lock (_gate)
        {
            clusters = [.. _clusters];
            _clusters.Clear();
        }

        await Parallel.ForEachAsync(clusters, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (cluster, _) =>
        {
            await cluster.Client.DisposeAsync();
            await cluster.Server.DisposeAsync();
        });
    }

    private static long AvailableMiB()
    {
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
        }

        return long.MaxValue;
    }
}
