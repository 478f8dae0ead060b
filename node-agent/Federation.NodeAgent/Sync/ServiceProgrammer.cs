using System.Text.Json;
using System.Threading.Channels;
using Federation.Mesh.Remote;
using Federation.Mesh.Services;
using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Hosting;
using Federation.NodeAgent.Services;

namespace Federation.NodeAgent.Sync;

/// <summary>
/// Keeps the eBPF service maps equal to the merged services. At start it installs the datapath (reusing the
/// pins of a previous run, whose entries keep serving), reads the programmed state back, and waits until the
/// local informers and every remote cluster are synced (at most <c>--sync-timeout</c>) before its first apply:
/// until then nothing is removed. After that every change of the cache is programmed, changes arriving within
/// <see cref="AgentOptions.ApplyDebounce"/> in one apply of the whole desired set.
/// </summary>
internal sealed partial class ServiceProgrammer : BackgroundService
{
    private static readonly TimeSpan SyncPollInterval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly AgentOptions _options;
    private readonly GlobalServiceCache _cache;
    private readonly LocalServiceSource _local;
    private readonly RemoteSourceService _remoteHost;
    private readonly IRemoteClusterSource _remote;
    private readonly AgentState _state;
    private readonly AgentMetrics _metrics;
    private readonly NodeDatapath _datapath;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<ServiceProgrammer> _logger;
    private readonly TimeProvider _time;

    // Capacity one, dropping further writes: a pending signal already means "recompute everything".
    private readonly Channel<bool> _dirty = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private ServiceMapWriter? _writer;

    public ServiceProgrammer(
        AgentOptions options,
        GlobalServiceCache cache,
        LocalServiceSource local,
        RemoteSourceService remoteHost,
        IRemoteClusterSource remote,
        AgentState state,
        AgentMetrics metrics,
        NodeDatapath datapath,
        ILoggerFactory loggerFactory,
        TimeProvider time)
    {
        _options = options;
        _cache = cache;
        _local = local;
        _remoteHost = remoteHost;
        _remote = remote;
        _state = state;
        _metrics = metrics;
        _datapath = datapath;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ServiceProgrammer>();
        _time = time;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Installing first (and failing the host if it cannot) means nothing else starts without a datapath.
        var datapath = BpfDatapath.Install(DatapathOptions(_options), _loggerFactory.CreateLogger<BpfDatapath>());
        _datapath.Set(datapath);
        _writer = new ServiceMapWriter(datapath.Maps, _loggerFactory.CreateLogger<ServiceMapWriter>());
        Log.Installed(_logger, _options.NodeName, datapath.ReusedLinks, _writer.ProgrammedServices.Count);
        _cache.Changed += OnChanged;
        return base.StartAsync(cancellationToken);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _cache.Changed -= OnChanged;
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The datapath settings the agent's flags describe.</summary>
    public static BpfDatapathOptions DatapathOptions(AgentOptions options) => new()
    {
        NodeName = options.NodeName,
        CgroupPath = options.CgroupPath,
        BpfFsRoot = options.BpfFsRoot,
    };

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WaitForSyncAsync(stoppingToken).ConfigureAwait(false);
        while (!TryApply(initial: !_state.Ready))
        {
            await Task.Delay(RetryDelay, _time, stoppingToken).ConfigureAwait(false);
        }

        while (await _dirty.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
        {
            // Let a burst of changes (a slice update touching many services, a remote re-list) settle into one apply.
            await Task.Delay(_options.ApplyDebounce, _time, stoppingToken).ConfigureAwait(false);
            _dirty.Reader.TryRead(out _);
            if (!TryApply(initial: false))
            {
                await Task.Delay(RetryDelay, _time, stoppingToken).ConfigureAwait(false);
                _dirty.Writer.TryWrite(true);
            }
        }
    }

    private void OnChanged(object? sender, MergedServiceChangedEventArgs e) => _dirty.Writer.TryWrite(true);

    private async Task WaitForSyncAsync(CancellationToken stoppingToken)
    {
        var started = _time.GetTimestamp();
        using var deadline = new CancellationTokenSource(_options.SyncTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, deadline.Token);
        try
        {
            _state.SetWaiting("local services and endpoint slices");
            await _local.Synced.WaitAsync(linked.Token).ConfigureAwait(false);
            _state.MarkLocalSynced();
            _state.SetWaiting("remote cluster configuration");
            await _remoteHost.Started.WaitAsync(linked.Token).ConfigureAwait(false);
            using var timer = new PeriodicTimer(SyncPollInterval, _time);
            while (UnsyncedRemotes() is { Count: > 0 } unsynced)
            {
                _state.SetWaiting("remote clusters " + string.Join(", ", unsynced));
                await timer.WaitForNextTickAsync(linked.Token).ConfigureAwait(false);
            }

            _state.MarkRemoteSynced();
            _state.SetWaiting(null);
            Log.Synced(_logger, _time.GetElapsedTime(started).TotalSeconds);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            _state.MarkSyncTimedOut();
            var waitingFor = _state.WaitingFor ?? "(unknown)";
            Log.SyncTimedOut(_logger, _options.SyncTimeout.TotalSeconds, waitingFor);
            _state.RecordError("sync", $"--sync-timeout {_options.SyncTimeout.TotalSeconds}s expired waiting for {waitingFor}; programming what is known");
        }
    }

    private List<string> UnsyncedRemotes()
        => [.. _remote.GetStatus().Clusters.Where(c => c.State != RemoteClusterState.Removed && !c.Synced).Select(c => c.Name).Order(StringComparer.Ordinal)];

    private bool TryApply(bool initial)
    {
        var started = _time.GetTimestamp();
        try
        {
            var desired = DesiredServices.From(_cache.Snapshot());
            var change = _writer!.Apply(desired.Services);
            var backendEntries = _writer.BackendIds.Count;
            var serviceEntries = desired.Services.Sum(s => 1 + s.Backends.Length);
            var previous = _state.Programmed;
            var programmed = new ProgrammedState(desired.Programmed, serviceEntries, backendEntries, desired.Skipped, desired.SkippedBackends, _time.GetUtcNow());
            _state.SetProgrammed(programmed);
            _metrics.Applied(_time.GetElapsedTime(started));
            if (initial)
            {
                _state.MarkFirstApply();
                Log.FirstApply(_logger, desired.Services.Length, change.ServicesDeleted, change.BackendsDeleted, _state.SyncTimedOut);
            }
            else if (!change.IsEmpty)
            {
                Log.Applied(_logger, desired.Services.Length, change.MastersWritten, change.ServicesDeleted, change.BackendsAdded, change.BackendsDeleted);
            }

            if (initial || !previous.Services.SequenceEqual(programmed.Services))
            {
                WriteStateFile(programmed);
            }

            return true;
        }
        catch (Exception e) when (e is BpfException or IOException or ArgumentException or InvalidOperationException)
        {
            _metrics.ApplyFailed();
            _state.RecordError("apply", e.Message);
            Log.ApplyFailed(_logger, e);
            return false;
        }
    }

    // The frontend → service names of the last apply, for --dump (the maps themselves only know VIPs).
    private void WriteStateFile(ProgrammedState programmed)
    {
        try
        {
            Directory.CreateDirectory(_options.StateDirectory);
            var path = StateFile.PathIn(_options.StateDirectory, _options.NodeName);
            var names = programmed.Services
                .SelectMany(s => s.Frontends.Select(f => new KeyValuePair<string, string>(f.Frontend, s.Key)))
                .ToDictionary(StringComparer.Ordinal);
            var temporary = path + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(names, AgentJsonContext.Default.DictionaryStringString));
            File.Move(temporary, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _state.RecordError("state-dir", e.Message);
            Log.StateFileFailed(_logger, _options.StateDirectory, e.Message);
        }
    }
}
