using System.Diagnostics.Metrics;

namespace Federation.ClusterMesh.ApiServer.Export;

/// <summary>The apiserver's own instruments (meter "Federation.ClusterMesh.ApiServer"); the etcd layer's are in Federation.Etcd.</summary>
public static class ApiServerMetrics
{
    public const string MeterName = "Federation.ClusterMesh.ApiServer";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Reconciles of one key, by exporter (tag "exporter").</summary>
    public static readonly Histogram<double> ReconcileDuration = Meter.CreateHistogram<double>(
        "federation_clustermesh_reconcile_duration_seconds", unit: "s", description: "Time to reconcile one key of an exporter.");

    /// <summary>Kubernetes objects an exporter could not use (tags "exporter", "reason").</summary>
    public static readonly Counter<long> InvalidObjects = Meter.CreateCounter<long>(
        "federation_clustermesh_invalid_objects_total", description: "Kubernetes objects or annotations that could not be used (logged, defaulted or skipped).");

    /// <summary>Keys of the <c>--clustermesh-config-secret</c> Secret skipped because they are not safe file names.</summary>
    public static readonly Counter<long> ConfigSecretSkippedKeys = Meter.CreateCounter<long>(
        "federation_clustermesh_config_secret_skipped_keys_total", description: "Keys of the clustermesh config Secret skipped because they are not safe file names.");

    /// <summary>Registers an observable gauge (e.g. exported object counts, queue sizes).</summary>
    public static void Gauge(string name, string description, Func<IEnumerable<Measurement<long>>> observe)
        => Meter.CreateObservableGauge(name, observe, description: description);
}
