using System.Diagnostics.Metrics;

namespace Federation.Kubernetes;

/// <summary>The instruments of the Kubernetes layer (meter "Federation.Kubernetes"), exported in Prometheus form by the processes.</summary>
public static class KubernetesMetrics
{
    public const string MeterName = "Federation.Kubernetes";

    /// <summary>The name of <see cref="InvalidObjects"/>, tagged <c>resource</c> (plural, e.g. <c>services</c>) and <c>reason</c>.</summary>
    public const string InvalidObjectsName = "federation_kubernetes_invalid_objects_total";

    private static readonly Meter Meter = new(MeterName);

    internal static readonly Counter<long> InvalidObjects = Meter.CreateCounter<long>(
        InvalidObjectsName, description: "Objects of an informer's list or watch that could not be decoded and were skipped (once per list or event).");
}
