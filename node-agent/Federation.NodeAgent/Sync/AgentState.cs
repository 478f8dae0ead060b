using System.Collections.Immutable;

namespace Federation.NodeAgent.Sync;

/// <summary>One backend as programmed: where connections go and which cluster it belongs to.</summary>
internal sealed record ProgrammedBackend(string Address, ushort Port, string Cluster, uint ClusterId, string State);

/// <summary>One frontend (VIP:port/proto) of a service and its backends in slot order.</summary>
internal sealed record ProgrammedFrontend(string Frontend, ImmutableArray<ProgrammedBackend> Backends);

/// <summary>One service as programmed in the datapath.</summary>
internal sealed record ProgrammedService(string Namespace, string Name, ImmutableArray<ProgrammedFrontend> Frontends)
{
    public string Key => $"{Namespace}/{Name}";
}

/// <summary>An error worth showing in the status, with when it happened.</summary>
internal sealed record AgentError(DateTimeOffset At, string Where, string Message);

/// <summary>What the last apply programmed, summarised for status and metrics.</summary>
internal sealed record ProgrammedState(
    ImmutableArray<ProgrammedService> Services,
    int ServiceMapEntries,
    int BackendMapEntries,
    ImmutableDictionary<string, int> SkippedFrontends,
    ImmutableDictionary<string, int> SkippedBackends,
    DateTimeOffset At)
{
    public static ProgrammedState Empty { get; } = new([], 0, 0, ImmutableDictionary<string, int>.Empty, ImmutableDictionary<string, int>.Empty, DateTimeOffset.MinValue);

    /// <summary>Distinct programmed backends per cluster name.</summary>
    public ImmutableSortedDictionary<string, int> BackendsPerCluster => Services
        .SelectMany(s => s.Frontends)
        .SelectMany(f => f.Backends)
        .Distinct()
        .GroupBy(b => b.Cluster, StringComparer.Ordinal)
        .ToImmutableSortedDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}

/// <summary>The agent's sync and programming state, shared by the programmer, the status endpoint and the metrics. Thread-safe.</summary>
internal sealed class AgentState(TimeProvider time)
{
    private const int MaxErrors = 20;
    private readonly Lock _gate = new();
    private readonly DateTimeOffset _started = time.GetUtcNow();
    private ImmutableQueue<AgentError> _errors = [];
    private int _errorCount;

    public bool LocalSynced { get; private set; }

    public bool RemoteSynced { get; private set; }

    /// <summary>The first apply went ahead without full sync because --sync-timeout expired.</summary>
    public bool SyncTimedOut { get; private set; }

    /// <summary>What the first apply is (or was, on timeout) waiting for.</summary>
    public string? WaitingFor { get; private set; }

    /// <summary>When the first full apply finished: from then on the agent is ready.</summary>
    public DateTimeOffset? FirstApplyAt { get; private set; }

    public double? SecondsToFirstApply => FirstApplyAt is { } at ? (at - _started).TotalSeconds : null;

    public bool Ready => FirstApplyAt is not null;

    public ProgrammedState Programmed { get; private set; } = ProgrammedState.Empty;

    public ImmutableArray<AgentError> Errors
    {
        get
        {
            lock (_gate)
            {
                return [.. _errors];
            }
        }
    }

    public void SetWaiting(string? what) => WaitingFor = what;

    public void MarkLocalSynced() => LocalSynced = true;

    public void MarkRemoteSynced() => RemoteSynced = true;

    public void MarkSyncTimedOut() => SyncTimedOut = true;

    public void MarkFirstApply() => FirstApplyAt ??= time.GetUtcNow();

    public void SetProgrammed(ProgrammedState programmed) => Programmed = programmed;

    public void RecordError(string where, string message)
    {
        lock (_gate)
        {
            _errors = _errors.Enqueue(new AgentError(time.GetUtcNow(), where, message));
            if (++_errorCount > MaxErrors)
            {
                _errors = _errors.Dequeue();
                _errorCount--;
            }
        }
    }
}
