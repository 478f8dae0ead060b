using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Federation.ClusterMesh.ApiServer.Metrics;

/// <summary>
/// Collects every instrument of the <c>Federation.*</c> meters and renders them in the Prometheus text
/// format (counters, up-down counters and gauges as their current value, histograms as cumulative buckets).
/// Instrument names are already Prometheus names (<c>federation_..._total</c>, <c>_seconds</c>).
/// </summary>
public sealed class PrometheusMetrics : IDisposable
{
    private static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly Lock _gate = new();
    private readonly Dictionary<Instrument, Series> _series = [];

    public PrometheusMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name.StartsWith("Federation", StringComparison.Ordinal))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    /// <summary>The current values, in Prometheus text exposition format 0.0.4.</summary>
    public string Render()
    {
        // Observable instruments report now; each report replaces the previous value.
        lock (_gate)
        {
            foreach (var series in _series.Values.Where(s => s.Observable))
            {
                series.Values.Clear();
            }
        }

        _listener.RecordObservableInstruments();
        var text = new StringBuilder();
        lock (_gate)
        {
            foreach (var (instrument, series) in _series.OrderBy(s => s.Key.Name, StringComparer.Ordinal))
            {
                var type = instrument switch
                {
                    Counter<long> or Counter<double> or Counter<int> or ObservableCounter<long> or ObservableCounter<double> => "counter",
                    Histogram<double> or Histogram<long> => "histogram",
                    _ => "gauge",
                };
                if (!string.IsNullOrEmpty(instrument.Description))
                {
                    text.Append("# HELP ").Append(instrument.Name).Append(' ').Append(instrument.Description.Replace("\n", " ", StringComparison.Ordinal)).Append('\n');
                }

                text.Append("# TYPE ").Append(instrument.Name).Append(' ').Append(type).Append('\n');
                foreach (var (labels, value) in series.Values.OrderBy(v => v.Key, StringComparer.Ordinal))
                {
                    if (value.Histogram is { } histogram)
                    {
                        for (var i = 0; i < Buckets.Length; i++)
                        {
                            Line(text, instrument.Name + "_bucket", WithLabel(labels, "le", Number(Buckets[i])), histogram.Counts[i]);
                        }

                        Line(text, instrument.Name + "_bucket", WithLabel(labels, "le", "+Inf"), histogram.Count);
                        Line(text, instrument.Name + "_sum", labels, histogram.Sum);
                        Line(text, instrument.Name + "_count", labels, histogram.Count);
                    }
                    else
                    {
                        Line(text, instrument.Name, labels, value.Value);
                    }
                }
            }
        }

        return text.ToString();
    }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = Labels(tags);
        lock (_gate)
        {
            if (!_series.TryGetValue(instrument, out var series))
            {
                series = new Series(instrument.IsObservable);
                _series[instrument] = series;
            }

            if (!series.Values.TryGetValue(labels, out var current))
            {
                current = new SeriesValue();
                series.Values[labels] = current;
            }

            switch (instrument)
            {
                case Histogram<double> or Histogram<long>:
                    current.Histogram ??= new HistogramState(Buckets.Length);
                    current.Histogram.Add(value, Buckets);
                    break;
                case Counter<long> or Counter<double> or Counter<int> or UpDownCounter<long> or UpDownCounter<double> or UpDownCounter<int>:
                    current.Value += value;
                    break;
                default:
                    // Gauges and observable instruments: the latest value.
                    current.Value = value;
                    break;
            }
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return "";
        }

        var pairs = new List<string>(tags.Length);
        foreach (var tag in tags)
        {
            pairs.Add($"{tag.Key}=\"{Escape(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")}\"");
        }

        pairs.Sort(StringComparer.Ordinal);
        return string.Join(",", pairs);
    }

    private static string WithLabel(string labels, string name, string value)
        => labels.Length == 0 ? $"{name}=\"{value}\"" : $"{labels},{name}=\"{value}\"";

    private static void Line(StringBuilder text, string name, string labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0)
        {
            text.Append('{').Append(labels).Append('}');
        }

        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double value) => double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    public void Dispose() => _listener.Dispose();

    private sealed class Series(bool observable)
    {
        public bool Observable { get; } = observable;

        public Dictionary<string, SeriesValue> Values { get; } = new(StringComparer.Ordinal);
    }

    private sealed class SeriesValue
    {
        public double Value { get; set; }

        public HistogramState? Histogram { get; set; }
    }

    private sealed class HistogramState(int buckets)
    {
        public long[] Counts { get; } = new long[buckets];

        public long Count { get; private set; }

        public double Sum { get; private set; }

        public void Add(double value, double[] bounds)
        {
            Count++;
            Sum += value;
            for (var i = 0; i < bounds.Length; i++)
            {
                if (value <= bounds[i])
                {
                    Counts[i]++;
                }
            }
        }
    }
}
