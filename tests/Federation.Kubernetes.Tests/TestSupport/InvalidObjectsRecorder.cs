using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Federation.Kubernetes.Tests.TestSupport;

/// <summary>Records <c>federation_kubernetes_invalid_objects_total</c> increments from the moment it is created.</summary>
internal sealed class InvalidObjectsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string? Resource, string? Reason, long Value)> _measurements = new();

    public InvalidObjectsRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == KubernetesMetrics.MeterName && instrument.Name == KubernetesMetrics.InvalidObjectsName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? resource = null, reason = null;
            foreach (var tag in tags)
            {
                switch (tag.Key)
                {
                    case "resource":
                        resource = tag.Value as string;
                        break;
                    case "reason":
                        reason = tag.Value as string;
                        break;
                }
            }

            _measurements.Enqueue((resource, reason, value));
        });
        _listener.Start();
    }

    /// <summary>The sum recorded for one resource and reason.</summary>
    public long Total(string resource, string reason)
        => _measurements.Where(m => m.Resource == resource && m.Reason == reason).Sum(m => m.Value);

    public void Dispose() => _listener.Dispose();
}
