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

/// <summary>
/// The remote clusters' etcds, started in parallel; disposing stops every one of them. They stand for other clusters'
/// machines, so they must not take CPU from the apiserver and its local etcd, which are measured: they run at nice 19,
/// or in the CPU group given (<see cref="RemoteCpuGroup"/>); either way they get every cycle the measured processes leave.
/// </summary>
internal sealed class RemoteClusters(RemoteCpuGroup? cpuGroup) : IAsyncDisposable
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
                            // The backend commits once a second, not ten times: a watch event or a read does not wait for it.
                            ExtraArguments = ["--quota-backend-bytes=268435456", "--snapshot-count=5000", "--heartbeat-interval=500", "--election-timeout=5000", "--backend-batch-interval=1s"],

                            // One Go scheduler thread: 250 runtimes with idle threads spinning for work cost CPU that
                            // a remote cluster's etcd, on its own machines, would not take from the apiserver.
                            Environment = new Dictionary<string, string> { ["GOMAXPROCS"] = "1" },
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

                // Registered first, so it is stopped on the way out even if this fails.
                try
                {
                    await LowerPriorityAsync(server, ct);
                }
                catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
                {
                    failure ??= ex.Message.Split('\n')[0];
                    await failed.CancelAsync();
                }
            });
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
        }

        return failure;
    }

    /// <summary>The nice value of the remote etcds where there is no CPU group for them.</summary>
    public const int Nice = 19;

    /// <summary>How the remotes are kept from the measured processes' CPU, for the report.</summary>
    public string Priority => cpuGroup?.Description ?? $"nice {Nice}";

    private async Task LowerPriorityAsync(EtcdServer server, CancellationToken cancellationToken)
    {
        if (server.ProcessId is not { } pid)
        {
            return;
        }

        if (cpuGroup is not null)
        {
            cpuGroup.Add(pid);
            return;
        }

        await ReniceAsync(pid, Nice, cancellationToken);
    }

    /// <summary>
    /// Sets the nice value of every thread of a process. (Nice is per thread on Linux; threads started later inherit
    /// it from the thread that starts them.)
    /// </summary>
    public static async Task ReniceAsync(int pid, int nice, CancellationToken cancellationToken)
    {
        var threads = Directory.GetDirectories($"/proc/{pid}/task").Select(Path.GetFileName).OfType<string>().ToList();
        var renice = new System.Diagnostics.ProcessStartInfo("renice", ["-n", nice.ToString(CultureInfo.InvariantCulture), "-p", .. threads])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(renice) ?? throw new InvalidOperationException("could not start renice");
        var error = await process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"renice of process {pid} to {nice} failed: {error.Trim()}");
        }
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
        cpuGroup?.Dispose();
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
