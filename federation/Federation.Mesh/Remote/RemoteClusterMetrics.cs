using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Federation.Mesh.Remote;

/// <summary>The remote cluster instruments of meter "Federation.Mesh"; gauges read every running <see cref="IRemoteClusterSource"/>.</summary>
public static class RemoteClusterMetrics
{
    public const string MeterName = "Federation.Mesh";

    private static readonly Meter Meter = new(MeterName);
    private static readonly ConcurrentDictionary<IRemoteClusterSource, byte> Sources = new();

    internal static readonly Counter<long> Failures = Meter.CreateCounter<long>(
        "federation_remote_cluster_failures_total", description: "Failed connection attempts and lost connections per remote cluster, by reason (unreachable, config, refused, heartbeat).");

    internal static readonly Counter<long> InvalidEntries = Meter.CreateCounter<long>(
        "federation_remote_cluster_invalid_entries_total", description: "Entries read from remote clusters that failed validation and were skipped.");

    static RemoteClusterMetrics()
    {
        Meter.CreateObservableGauge(
            "federation_remote_cluster_ready",
            () => ObserveOne(s => new Measurement<int>(s.State == RemoteClusterState.Ready ? 1 : 0, Tag("cluster", s.Name))),
            description: "1 when the remote cluster is connected, validated and synced, else 0.");
        Meter.CreateObservableGauge(
            "federation_remote_cluster_last_failure_timestamp_seconds",
            () => Observe<double>(s => s.LastFailure is { } t ? [new Measurement<double>(t.ToUnixTimeMilliseconds() / 1000.0, Tag("cluster", s.Name))] : []),
            unit: "s",
            description: "Unix time of the remote cluster's last failure.");
        Meter.CreateObservableGauge(
            "federation_remote_cluster_entries",
            () => Observe<long>(s => s.Kinds.Select(k => new Measurement<long>(k.Value.Entries, Tag("cluster", s.Name), Tag("kind", k.Key)))),
            description: "Entries currently known from a remote cluster, per kind.");
    }

    internal static void Register(IRemoteClusterSource source) => Sources.TryAdd(source, 0);

    internal static void Unregister(IRemoteClusterSource source) => Sources.TryRemove(source, out _);

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    private static IEnumerable<Measurement<T>> ObserveOne<T>(Func<RemoteClusterStatus, Measurement<T>> measure)
        where T : struct => Observe<T>(s => [measure(s)]);

    private static IEnumerable<Measurement<T>> Observe<T>(Func<RemoteClusterStatus, IEnumerable<Measurement<T>>> measure)
        where T : struct => Sources.Keys.SelectMany(m => m.GetStatus().Clusters).SelectMany(measure).ToList();
}
