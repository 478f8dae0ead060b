using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

/// <summary>Listens to federation_remote_cluster_failures_total and counts refusals per cluster.</summary>
internal sealed class FailureCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _refused = new();

    public FailureCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == RemoteClusterMetrics.MeterName && instrument.Name == "federation_remote_cluster_failures_total")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            string? cluster = null;
            string? reason = null;
            foreach (var tag in tags)
            {
                if (tag.Key == "cluster")
                {
                    cluster = tag.Value as string;
                }
                else if (tag.Key == "reason")
                {
                    reason = tag.Value as string;
                }
            }

            if (cluster is not null && reason == "refused")
            {
                _refused.AddOrUpdate(cluster, value, (_, v) => v + value);
            }
        });
        _listener.Start();
    }

    public long Refused(string cluster) => _refused.GetValueOrDefault(cluster);

    public void Dispose() => _listener.Dispose();
}
