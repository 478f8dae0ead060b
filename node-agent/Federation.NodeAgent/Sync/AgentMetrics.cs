using System.Diagnostics.Metrics;
using Federation.NodeAgent.Datapath;

namespace Federation.NodeAgent.Sync;

/// <summary>The agent's instruments (meter <c>Federation.NodeAgent</c>), read by the Prometheus exporter on /metrics.</summary>
internal sealed class AgentMetrics : IDisposable
{
    public const string MeterName = "Federation.NodeAgent";

    private readonly Meter _meter = new(MeterName);
    private readonly Counter<long> _applies;
    private readonly Counter<long> _applyErrors;
    private readonly Histogram<double> _applySeconds;

    public AgentMetrics(AgentState state, NodeDatapath datapath)
    {
        _applies = _meter.CreateCounter<long>("federation_agent_applies_total", description: "Applies of the desired services to the datapath maps.");
        _applyErrors = _meter.CreateCounter<long>("federation_agent_apply_errors_total", description: "Applies that failed (retried).");
        _applySeconds = _meter.CreateHistogram<double>("federation_agent_apply_duration_seconds", "s", "Time to compute and write one apply.");
        _meter.CreateObservableGauge("federation_agent_ready", () => state.Ready ? 1 : 0, description: "1 once the first full apply after sync is done.");
        _meter.CreateObservableGauge(
            "federation_agent_synced",
            () => new[]
            {
                new Measurement<int>(state.LocalSynced ? 1 : 0, new KeyValuePair<string, object?>("source", "local")),
                new Measurement<int>(state.RemoteSynced ? 1 : 0, new KeyValuePair<string, object?>("source", "remote")),
            },
            description: "1 when the source delivered its initial state.");
        _meter.CreateObservableGauge("federation_agent_sync_timed_out", () => state.SyncTimedOut ? 1 : 0, description: "1 when the first apply went ahead after --sync-timeout.");
        _meter.CreateObservableGauge("federation_agent_programmed_services", () => state.Programmed.Services.Length, description: "Services with at least one programmed frontend.");
        _meter.CreateObservableGauge(
            "federation_agent_programmed_frontends", () => state.Programmed.Services.Sum(s => s.Frontends.Length), description: "Programmed VIP:port/protocol frontends.");
        _meter.CreateObservableGauge(
            "federation_agent_programmed_backends",
            () => state.Programmed.BackendsPerCluster.Select(c => new Measurement<int>(c.Value, new KeyValuePair<string, object?>("cluster", c.Key))),
            description: "Distinct programmed backends per cluster.");
        _meter.CreateObservableGauge(
            "federation_agent_map_entries",
            () => new[]
            {
                new Measurement<int>(state.Programmed.ServiceMapEntries, new KeyValuePair<string, object?>("map", LbMapNames.Services)),
                new Measurement<int>(state.Programmed.BackendMapEntries, new KeyValuePair<string, object?>("map", LbMapNames.Backends)),
            },
            description: "Entries in the datapath maps.");
        _meter.CreateObservableGauge(
            "federation_agent_map_fill_ratio",
            () => new[]
            {
                new Measurement<double>((double)state.Programmed.ServiceMapEntries / LbMapNames.ServiceMapSize, new KeyValuePair<string, object?>("map", LbMapNames.Services)),
                new Measurement<double>((double)state.Programmed.BackendMapEntries / LbMapNames.BackendMapSize, new KeyValuePair<string, object?>("map", LbMapNames.Backends)),
            },
            description: "Entries over capacity of the datapath maps.");
        _meter.CreateObservableGauge(
            "federation_agent_skipped_frontends",
            () => state.Programmed.SkippedFrontends.Select(s => new Measurement<int>(s.Value, new KeyValuePair<string, object?>("reason", s.Key))),
            description: "Frontends the last apply could not program (ipv6: no v6 datapath yet).");
        _meter.CreateObservableGauge(
            "federation_agent_skipped_backends",
            () => state.Programmed.SkippedBackends.Select(s => new Measurement<int>(s.Value, new KeyValuePair<string, object?>("reason", s.Key))),
            description: "Backends the last apply left out of their service's slots (invalid-address, ipv6, port-zero, protocol); the rest of the service is programmed.");
        _meter.CreateObservableCounter(
            "federation_agent_datapath_translations_total", () => Counter(datapath, c => c.Translations), description: "connect/sendmsg rewrites of a VIP to a backend.");
        _meter.CreateObservableCounter(
            "federation_agent_datapath_backend_misses_total", () => Counter(datapath, c => c.BackendMisses), description: "Slots whose backend was missing.");
        _meter.CreateObservableCounter(
            "federation_agent_datapath_no_backend_total", () => Counter(datapath, c => c.NoBackendRejects), description: "Connects to a service without backends (refused).");
    }

    public void Applied(TimeSpan elapsed)
    {
        _applies.Add(1);
        _applySeconds.Record(elapsed.TotalSeconds);
    }

    public void ApplyFailed() => _applyErrors.Add(1);

    public void Dispose() => _meter.Dispose();

    private static IEnumerable<Measurement<long>> Counter(NodeDatapath datapath, Func<LbCounters, ulong> pick)
        => datapath.ReadCounters() is { } counters ? [new Measurement<long>((long)pick(counters))] : [];
}
