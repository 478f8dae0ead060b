using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Federation.NodeAgent.Tunnels;

namespace Federation.NodeAgent.Tests.Tunnels;

/// <summary>Listens to the "Federation.NodeAgent.Tunnels" meter: counters are summed, observed instruments keep their last value.</summary>
internal sealed class TunnelMetricsProbe : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, double> _counters = new();
    private readonly ConcurrentDictionary<string, double> _observed = new();

    public TunnelMetricsProbe()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == WireGuardMetrics.MeterName)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        _listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        _listener.Start();
    }

    /// <summary>The sum of a counter's measurements whose tags include <paramref name="tag"/> (e.g. <c>reason=key</c>).</summary>
    public double Counter(string name, string tag) => _counters.Where(c => c.Key.StartsWith(name + "|", StringComparison.Ordinal) && c.Key.Contains(tag, StringComparison.Ordinal)).Sum(c => c.Value);

    /// <summary>An observable instrument's value for the measurement whose tags include every one of <paramref name="tags"/>.</summary>
    public double? Observed(string name, params string[] tags)
    {
        _observed.Clear();
        _listener.RecordObservableInstruments();
        var match = _observed.Where(o => o.Key.StartsWith(name + "|", StringComparison.Ordinal) && tags.All(t => o.Key.Contains(t, StringComparison.Ordinal))).ToList();
        return match.Count == 0 ? null : match.Sum(m => m.Value);
    }

    public void Dispose() => _listener.Dispose();

    private static string Key(Instrument instrument, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var parts = new List<string>();
        foreach (var tag in tags)
        {
            parts.Add($"{tag.Key}={tag.Value}");
        }

        return instrument.Name + "|" + string.Join(',', parts.Order(StringComparer.Ordinal)) + ",";
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var key = Key(instrument, tags);
        if (instrument is Counter<long>)
        {
            _counters.AddOrUpdate(key, value, (_, old) => old + value);
        }
        else
        {
            _observed[key] = value;
        }
    }
}
