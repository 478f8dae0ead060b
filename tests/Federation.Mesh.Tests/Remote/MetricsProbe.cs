using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

/// <summary>Listens to the "Federation.Mesh" meter: counters are summed, gauges keep their last value, per instrument and tags.</summary>
internal sealed class MetricsProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _counters = new();
    private readonly ConcurrentDictionary<string, double> _gauges = new();

    public MetricsProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == RemoteClusterMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        _listener.Start();
    }

    /// <summary>The sum of a counter's measurements with exactly these tags (e.g. <c>cluster=b,reason=refused</c>).</summary>
    public double Counter(string name, string tags) => _counters.GetValueOrDefault(Key(name, tags));

    /// <summary>A gauge's current value for these tags (e.g. <c>cluster=b</c>), or null.</summary>
    public double? Gauge(string name, string tags)
    {
        _listener.RecordObservableInstruments();
        return _gauges.TryGetValue(Key(name, tags), out var value) ? value : null;
    }

    public void Dispose() => _listener.Dispose();

    private static string Key(string name, string tags) => $"{name}{{{tags}}}";

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var list = new List<string>();
        foreach (var tag in tags)
        {
            list.Add($"{tag.Key}={tag.Value}");
        }

        var key = Key(instrument.Name, string.Join(",", list.Order(StringComparer.Ordinal)));
        if (instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal))
        {
            _gauges[key] = value;
        }
        else
        {
            _counters.AddOrUpdate(key, value, (_, v) => v + value);
        }
    }
}
