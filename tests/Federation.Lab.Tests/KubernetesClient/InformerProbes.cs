using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace Federation.Lab.Tests.KubernetesClient;

/// <summary>One change an informer reported.</summary>
internal sealed record ObservedChange(string Kind, string Name, string? Value, string? ResourceVersion)
{
    public override string ToString() => $"{Kind} {Name}={Value}@{ResourceVersion}";
}

/// <summary>Records what an informer reports, in order; readable from the test thread while the informer runs.</summary>
internal sealed class RecordingObserver : IInformerObserver<ConfigMap>
{
    private readonly Lock _gate = new();
    private readonly List<ObservedChange> _changes = [];

    public IReadOnlyList<ObservedChange> Changes
    {
        get
        {
            lock (_gate)
            {
                return [.. _changes];
            }
        }
    }

    public void OnAdd(ConfigMap item) => Record("add", item);

    public void OnUpdate(ConfigMap oldItem, ConfigMap newItem) => Record("update", newItem);

    public void OnDelete(ConfigMap lastKnown) => Record("delete", lastKnown);

    private void Record(string kind, ConfigMap item)
    {
        var value = item.Data is { } data && data.TryGetValue("v", out var v) ? v : null;
        lock (_gate)
        {
            _changes.Add(new ObservedChange(kind, item.Metadata.Name!, value, item.Metadata.ResourceVersion));
        }
    }
}

/// <summary>Keeps an informer's log: counts events by name and echoes lines to the test output while the test runs.</summary>
internal sealed class RecordingLogger(ITestOutputHelper? output) : ILogger
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _counts = new(StringComparer.Ordinal);
    private volatile bool _closed;

    /// <summary>How many times the event named <paramref name="eventName"/> (the [LoggerMessage] method's name) was logged.</summary>
    public int Count(string eventName)
    {
        lock (_gate)
        {
            return _counts.GetValueOrDefault(eventName);
        }
    }

    /// <summary>Stops echoing to the test output (which must not be written after the test ends).</summary>
    public void Close() => _closed = true;

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull
        => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_gate)
        {
            var name = eventId.Name ?? eventId.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _counts[name] = _counts.GetValueOrDefault(name) + 1;
        }

        if (output is not null && !_closed)
        {
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test already ended.
            }
        }
    }
}

/// <summary>An informer running in the background until disposed; disposal waits for its loop to return.</summary>
internal sealed class RunningInformer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public RunningInformer(Informer<ConfigMap> informer)
    {
        Informer = informer;
        _run = Task.Run(() => informer.RunAsync(_stop.Token));
    }

    public Informer<ConfigMap> Informer { get; }

    /// <summary>Waits for the first complete list, failing after <paramref name="timeout"/>.</summary>
    public async Task WaitSyncedAsync(TimeSpan timeout)
    {
        try
        {
            await Informer.Synced.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"informer not synced after {timeout.TotalSeconds:0}s: {Informer.GetStatus()}");
        }
    }

    /// <summary>The cache as <c>name=v@resourceVersion</c>, sorted.</summary>
    public IReadOnlyList<string> Cache()
        => [.. Informer.List().Select(c => $"{c.Metadata.Name}={c.Data?.GetValueOrDefault("v")}").Order(StringComparer.Ordinal)];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _run.WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }
}
