using System.Collections.Immutable;
using System.Globalization;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Protocol;
using Federation.Etcd.Store;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace Federation.Mesh.Remote;

/// <summary>An entry as read from a remote: the exact bytes and the validated, decoded value.</summary>
internal sealed record RemoteEntry(byte[] Raw, object Value);

/// <summary>
/// One remote cluster: connects (through its own mTLS client, or the shared local client for a cached remote;
/// see <see cref="IRemoteClusterClientProvider"/>), validates its cluster config and ID, mirrors its nodes,
/// services, identities and ip entries (one <see cref="WatchStore{T}"/> per kind and connection) and
/// hands them to the observer. The whole connection lifecycle is in <see cref="RunAsync"/>: one
/// connection (a "session") at a time, retried with jittered exponential backoff.
/// </summary>
/// <remarks>
/// What the observer has been told is kept here, across connections, so that a lost connection keeps
/// the last state (stale) and a new connection's complete listing sweeps only what was deleted
/// meanwhile. Entries are delivered only once a kind is synced (canary-gated) for the first time.
/// </remarks>
internal sealed partial class RemoteCluster
{
    private readonly RemoteClusterOptions _options;
    private readonly IRemoteClusterClientProvider _clients;
    private readonly ClusterIdRegistry _registry;
    private readonly IRemoteClusterObserver _observer;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ResiliencePipeline _reconnect;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, RemoteEntry>[] _mirror;
    private readonly bool[] _delivered = new bool[KindCount];
    private readonly CancellationTokenSource _stop = new();
    private RemoteClusterConfig _config;
    private CiliumClusterConfig? _applied;
    private uint? _clusterId;
    private Session? _session;
    private RemoteClusterState _state = RemoteClusterState.Connecting;
    private DateTimeOffset? _lastConnected;
    private DateTimeOffset? _lastFailure;
    private DateTimeOffset? _lastHeartbeat;
    private DateTimeOffset? _staleSince;
    private string? _lastFailureReason;
    private long _failures;
    private long _invalid;
    private bool _awaitingHeartbeat;
    private ITimer? _staleTimer;
    private Task? _run;

    private const int KindCount = 4;
    private const string HeartbeatReason = "heartbeat";

    /// <summary>Shared by the remotes of one set: bounds how many are in their initial listing at once (null: unbounded).</summary>
    private readonly SemaphoreSlim? _initialSyncs;

    public RemoteCluster(
        RemoteClusterConfig config, RemoteClusterOptions options, IRemoteClusterClientProvider clients, ClusterIdRegistry registry,
        IRemoteClusterObserver observer, ILoggerFactory loggerFactory, TimeProvider time, SemaphoreSlim? initialSyncs = null)
    {
        _initialSyncs = initialSyncs;
        _config = config;
        _options = options;
        _clients = clients;
        _registry = registry;
        _observer = observer;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<RemoteCluster>();
        _time = time;
        _mirror = [.. Enumerable.Range(0, KindCount).Select(_ => new Dictionary<string, RemoteEntry>(StringComparer.Ordinal))];
        _reconnect = new ResiliencePipelineBuilder { TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<RemoteClusterFailureException>(),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.BackoffMin,
                MaxDelay = options.BackoffMax,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    Log.Retrying(_logger, Name, args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1);
                    return default;
                },
            })
            .Build();
    }

    public string Name => _config.Name;

    public string Fingerprint
    {
        get
        {
            lock (_gate)
            {
                return _config.Fingerprint;
            }
        }
    }

    public void Start() => _run = RunAsync(_stop.Token);

    /// <summary>The config file changed (endpoints or certificates): reconnect with it, keeping what is known.</summary>
    public void UpdateConfig(RemoteClusterConfig config)
    {
        Session? session;
        lock (_gate)
        {
            _config = config;
            session = _session;
        }

        Log.ConfigFileChanged(_logger, Name);
        session?.End(new SessionEnd("the config file changed", SessionEndKind.Reconnect));
    }

    /// <summary>Stops connecting, keeping what the observer was told (process shutdown).</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_run is { } run)
        {
            await run.ConfigureAwait(false);
        }

        lock (_gate)
        {
            _staleTimer?.Dispose();
            _staleTimer = null;
        }

        _registry.Release(Name);
    }

    /// <summary>Stops connecting and deletes everything this remote provided (it was removed from the configuration).</summary>
    public async Task RemoveAsync()
    {
        lock (_gate)
        {
            _state = RemoteClusterState.Removed;
        }

        await StopAsync().ConfigureAwait(false);
        lock (_gate)
        {
            _observer.OnRemoved(Name);
            DrainLocked("it was removed from the configuration");
            _state = RemoteClusterState.Removed;
        }
    }

    public RemoteClusterStatus GetStatus()
    {
        lock (_gate)
        {
            var kinds = ImmutableSortedDictionary.CreateBuilder<string, RemoteKindStatus>(StringComparer.Ordinal);
            foreach (var kind in ClusterMeshKindExtensions.All)
            {
                kinds[KindName(kind)] = new RemoteKindStatus(_delivered[(int)kind], _mirror[(int)kind].Count);
            }

            return new RemoteClusterStatus
            {
                Name = Name,
                State = _state,
                ClusterId = _clusterId,
                Endpoints = [.. _config.Endpoints.Select(e => e.ToString())],
                LastConnected = _lastConnected,
                LastFailure = _lastFailure,
                LastFailureReason = _lastFailureReason,
                Failures = _failures,
                LastHeartbeat = _lastHeartbeat,
                StaleSince = _staleSince,
                Kinds = kinds.ToImmutable(),
                InvalidEntries = Interlocked.Read(ref _invalid),
            };
        }
    }

    internal static string KindName(ClusterMeshKind kind) => kind.ToString().ToLowerInvariant();

    // The connection loop: one session at a time. A session that fails before it was ready is retried
    // with backoff; one that ends after it was ready (or for a config change) reconnects at once.
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await _reconnect.ExecuteAsync(
                    static (self, token) => new ValueTask(self.ConnectOnceAsync(token)), this, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A bug, not a remote's fault: say so loudly, and keep trying rather than go silent.
                Log.LoopFailed(_logger, Name, ex);
                RecordFailure(new SessionEnd($"internal error: {ex.Message}", SessionEndKind.Failure, "internal"));
                try
                {
                    await Task.Delay(_options.BackoffMax, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task ConnectOnceAsync(CancellationToken cancellationToken)
    {
        RemoteClusterConfig config;
        lock (_gate)
        {
            config = _config;
            if (_state is not (RemoteClusterState.Failing or RemoteClusterState.Refused))
            {
                _state = RemoteClusterState.Connecting;
            }
        }

        using var sessionCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var session = new Session(sessionCts, _time.GetUtcNow());
        lock (_gate)
        {
            _session = session;
        }

        var tasks = new List<Task>();
        RemoteClusterClient? client = null;
        ITimer? slotTimer = null;
        SessionEnd end;
        try
        {
            if (_initialSyncs is { } gate)
            {
                // Released when the session is ready (every kind listed) or ends.
                await gate.WaitAsync(sessionCts.Token).ConfigureAwait(false);
                session.HoldGate(gate);
                slotTimer = _time.CreateTimer(static s => ((Session)s!).ReleaseGate(), session, _options.InitialSyncSlotTimeout, Timeout.InfiniteTimeSpan);
            }

            client = _clients.Connect(config);
            var (remoteConfig, revision) = await ReadClusterConfigAsync(client.Client, sessionCts.Token).ConfigureAwait(false);
            Accept(session, remoteConfig);
            StartSession(client.Client, session, remoteConfig, revision, tasks);
            end = await session.Ended.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (OperationCanceledException) when (session.Ended.IsCompleted)
        {
            end = await session.Ended.ConfigureAwait(false);
        }
        catch (RemoteClusterFailureException ex)
        {
            end = ex.End;
        }
        catch (Exception ex)
        {
            end = ex is EtcdException or IOException or HttpRequestException or TimeoutException
                ? new SessionEnd($"etcd unreachable: {ex.Message}", SessionEndKind.Failure, "unreachable")
                : new SessionEnd($"cannot connect: {ex.GetType().Name}: {ex.Message}", SessionEndKind.Failure, "connect");
        }
        finally
        {
            lock (_gate)
            {
                session.Closed = true;
                if (_session == session)
                {
                    _session = null;
                }
            }

            session.End(new SessionEnd("stopped", SessionEndKind.Reconnect));
            session.ReleaseGate();
            slotTimer?.Dispose();
            await Task.WhenAll(tasks.Select(Quietly)).ConfigureAwait(false);
            if (client is { Owned: true })
            {
                await client.Client.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (end.Kind == SessionEndKind.Reconnect)
        {
            Log.Reconnecting(_logger, Name, end.Reason);
            return;
        }

        RecordFailure(end);
        if (!session.WasReady)
        {
            throw new RemoteClusterFailureException(end);
        }
    }

    private async Task<(CiliumClusterConfig Config, long Revision)> ReadClusterConfigAsync(IEtcdClient client, CancellationToken cancellationToken)
    {
        var key = ClusterMeshKeys.ClusterConfig(Name);
        var kv = await client.GetAsync(key, cancellationToken: cancellationToken).ConfigureAwait(false)
            ?? throw Failure($"cluster config missing: the remote etcd has no {key}", "config");
        if (!ClusterMeshJson.TryDeserialize(kv.Value.Span, out CiliumClusterConfig? config, out var error))
        {
            throw Failure($"cluster config invalid: {key}: {error}", "config");
        }

        return (config, kv.ModRevision);
    }

    private void Accept(Session session, CiliumClusterConfig config)
    {
        var max = config.Capabilities.MaxConnectedClusters == 0 ? ClusterIdentity.DefaultMaxConnectedClusters : config.Capabilities.MaxConnectedClusters;
        if (max != _options.MaxConnectedClusters)
        {
            throw Refusal(string.Create(
                CultureInfo.InvariantCulture,
                $"the remote's maxConnectedClusters is {max}, ours is {_options.MaxConnectedClusters}: it must be the same mesh-wide"));
        }

        var id = ClusterIdentity.ValidateClusterId(config.Id, _options.MaxConnectedClusters);
        if (!id.Ok)
        {
            throw Refusal($"cluster config: {id.Error}");
        }

        if (config.Id == _options.LocalClusterId)
        {
            throw Refusal(string.Create(CultureInfo.InvariantCulture, $"cluster ID {config.Id} is our own cluster's ID"));
        }

        lock (_gate)
        {
            if (_applied is { } previous && Incompatible(previous, config))
            {
                DrainLocked(string.Create(CultureInfo.InvariantCulture, $"its cluster ID changed from {previous.Id} to {config.Id}"));
            }

            if (_registry.TryClaim(Name, config.Id) is { } holder)
            {
                throw Refusal(string.Create(CultureInfo.InvariantCulture, $"cluster ID {config.Id} is already used by remote cluster \"{holder}\""));
            }

            _applied = config;
            _clusterId = config.Id;
            _lastConnected = _time.GetUtcNow();
            if (!_awaitingHeartbeat)
            {
                _state = RemoteClusterState.Syncing;
            }
            _observer.OnClusterConfig(Name, config);
        }

        Log.Connected(_logger, Name, config.Id, config.Capabilities.Cached);
    }

    private void StartSession(IEtcdClient client, Session session, CiliumClusterConfig config, long configRevision, List<Task> tasks)
    {
        var remote = new RemoteClusterInfo(Name, config.Id, _options.MaxConnectedClusters);
        var cached = config.Capabilities.Cached;
        var storeLogger = _loggerFactory.CreateLogger<WatchStore<RemoteEntry>>();
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            string? canary = null;
            if (config.Capabilities.SyncedCanaries)
            {
                canary = cached ? ClusterMeshKeys.CacheSyncedCanary(kind, Name) : ClusterMeshKeys.StateSyncedCanary(kind, Name);
            }

            var options = new WatchStoreOptions
            {
                Name = $"{Name}/{KindName(kind)}",
                Prefix = ClusterMeshKeys.RemoteWatchPrefix(kind, Name, cached),
                SyncedCanaryKey = canary,
                RetryMinDelay = _options.BackoffMin < TimeSpan.FromMilliseconds(200) ? _options.BackoffMin : TimeSpan.FromMilliseconds(200),
                RetryMaxDelay = _options.BackoffMax,
            };
            var store = new WatchStore<RemoteEntry>(client, options, Decoder(kind, remote), new KindObserver(this, session, kind), storeLogger, _time);
            tasks.Add(store.RunAsync(session.Token));
        }

        tasks.Add(WatchClusterConfigAsync(client, session, config, configRevision));
        tasks.Add(WatchHeartbeatAsync(client, session));
        tasks.Add(CheckHealthAsync(client, session));
    }

    private EntryDecoder<RemoteEntry> Decoder(ClusterMeshKind kind, RemoteClusterInfo remote)
    {
        var tags = new KeyValuePair<string, object?>[] { new("cluster", Name), new("kind", KindName(kind)) };
        return (key, value) =>
        {
            var result = ClusterMeshValidator.Validate(kind, key, value, remote);
            if (result.Ok && result.Value is { } decoded)
            {
                return EntryDecodeResult<RemoteEntry>.Ok(new RemoteEntry(value.ToArray(), decoded));
            }

            Interlocked.Increment(ref _invalid);
            RemoteClusterMetrics.InvalidEntries.Add(1, tags);
            return EntryDecodeResult<RemoteEntry>.Invalid(result.Reason ?? "rejected");
        };
    }

    private async Task WatchClusterConfigAsync(IEtcdClient client, Session session, CiliumClusterConfig current, long revision)
    {
        var request = new WatchCreateRequest { Key = ByteString.CopyFromUtf8(ClusterMeshKeys.ClusterConfig(Name)), StartRevision = revision + 1 };
        try
        {
            await foreach (var response in client.WatchAsync(request, session.Token).ConfigureAwait(false))
            {
                foreach (var ev in response.Events)
                {
                    if (ev.Type == Event.Types.EventType.Delete)
                    {
                        session.End(new SessionEnd("cluster config missing: it was deleted from the remote etcd", SessionEndKind.Failure, "config"));
                        return;
                    }

                    if (!ClusterMeshJson.TryDeserialize(ev.Kv.Value.Span, out CiliumClusterConfig? config, out var error))
                    {
                        session.End(new SessionEnd($"cluster config invalid: {error}", SessionEndKind.Failure, "config"));
                        return;
                    }

                    if (config == current)
                    {
                        continue;
                    }

                    if (Incompatible(current, config))
                    {
                        // Everything read so far was validated against the old ID: drop it, then validate afresh.
                        lock (_gate)
                        {
                            session.Closed = true;
                            DrainLocked(string.Create(CultureInfo.InvariantCulture, $"its cluster config changed (ID {current.Id} -> {config.Id}, cached {current.Capabilities.Cached} -> {config.Capabilities.Cached})"));
                        }

                        session.End(new SessionEnd("cluster config changed", SessionEndKind.Reconnect));
                        return;
                    }

                    if (config.Capabilities.MaxConnectedClusters != current.Capabilities.MaxConnectedClusters
                        || config.Capabilities.SyncedCanaries != current.Capabilities.SyncedCanaries)
                    {
                        session.End(new SessionEnd("cluster config changed: re-validating", SessionEndKind.Reconnect));
                        return;
                    }

                    current = config;
                    lock (_gate)
                    {
                        if (!session.Closed)
                        {
                            _applied = config;
                            _observer.OnClusterConfig(Name, config);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException) when (session.Token.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            session.End(new SessionEnd($"cluster config watch failed: {ex.Message}", SessionEndKind.Failure, "unreachable"));
        }
    }

    private async Task WatchHeartbeatAsync(IEtcdClient client, Session session)
    {
        var request = new WatchCreateRequest { Key = ByteString.CopyFromUtf8(ClusterMeshKeys.Heartbeat) };
        try
        {
            await foreach (var response in client.WatchAsync(request, session.Token).ConfigureAwait(false))
            {
                if (response.Events.Any(e => e.Type == Event.Types.EventType.Put))
                {
                    var now = _time.GetUtcNow();
                    bool ready;
                    lock (_gate)
                    {
                        session.LastHeartbeatChange = now;
                        _lastHeartbeat = now;
                        _awaitingHeartbeat = false;
                        ready = !session.Closed && TryBecomeReadyLocked(session);
                    }

                    if (ready)
                    {
                        Log.Ready(_logger, Name);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (session.Token.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            session.End(new SessionEnd($"heartbeat watch failed: {ex.Message}", SessionEndKind.Failure, "unreachable"));
        }
    }

    // Watches keep retrying on their own, so reachability is probed explicitly; a remote that answers but
    // whose heartbeat stands still (its apiserver is gone) is reconnected too.
    private async Task CheckHealthAsync(IEtcdClient client, Session session)
    {
        using var timer = new PeriodicTimer(_options.HealthCheckPeriod, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(session.Token).ConfigureAwait(false))
            {
                using var deadline = new CancellationTokenSource(_options.RequestTimeout, _time);
                using var probe = CancellationTokenSource.CreateLinkedTokenSource(session.Token, deadline.Token);
                try
                {
                    // WaitAsync as well: a probe must end on time even if a call does not honour its token.
                    await client.GetAsync(ClusterMeshKeys.Heartbeat, cancellationToken: probe.Token)
                        .WaitAsync(_options.RequestTimeout, _time, session.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (session.Token.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    var reason = ex is OperationCanceledException or TimeoutException ? $"no answer within {_options.RequestTimeout.TotalSeconds:0.#}s" : ex.Message;
                    session.End(new SessionEnd($"etcd unreachable: {reason}", SessionEndKind.Failure, "unreachable"));
                    return;
                }

                DateTimeOffset last;
                lock (_gate)
                {
                    last = session.LastHeartbeatChange;
                }

                var silent = _time.GetUtcNow() - last;
                if (silent > _options.HeartbeatTimeout)
                {
                    session.End(new SessionEnd(
                        string.Create(CultureInfo.InvariantCulture, $"no heartbeat change seen for {silent.TotalSeconds:0.#}s (interval {_options.HeartbeatInterval.TotalSeconds:0.#}s)"),
                        SessionEndKind.Failure,
                        HeartbeatReason));
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (session.Token.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            // Without its health check a session could sit on a dead remote: end it.
            session.End(new SessionEnd($"health check failed: {ex.Message}", SessionEndKind.Failure, "internal"));
        }
    }

    private void OnStoreUpsert(Session session, ClusterMeshKind kind, string key, RemoteEntry entry)
    {
        lock (_gate)
        {
            if (session.Closed)
            {
                return;
            }

            session.Seen[(int)kind].Add(key);
            var mirror = _mirror[(int)kind];
            if (mirror.TryGetValue(key, out var known) && known.Raw.AsSpan().SequenceEqual(entry.Raw))
            {
                return;
            }

            mirror[key] = entry;
            if (_delivered[(int)kind])
            {
                _observer.OnUpsert(Name, kind, key, entry.Raw, entry.Value);
            }
        }
    }

    private void OnStoreDelete(Session session, ClusterMeshKind kind, string key)
    {
        lock (_gate)
        {
            if (!session.Closed && _mirror[(int)kind].Remove(key) && _delivered[(int)kind])
            {
                _observer.OnDelete(Name, kind, key);
            }
        }
    }

    private void OnStoreSynced(Session session, ClusterMeshKind kind)
    {
        var ready = false;
        lock (_gate)
        {
            if (session.Closed)
            {
                return;
            }

            // The session's first listing is complete: what it did not show was deleted while we were away.
            var mirror = _mirror[(int)kind];
            var seen = session.Seen[(int)kind];
            foreach (var key in mirror.Keys.Where(k => !seen.Contains(k)).ToList())
            {
                mirror.Remove(key);
                if (_delivered[(int)kind])
                {
                    _observer.OnDelete(Name, kind, key);
                }
            }

            if (!_delivered[(int)kind])
            {
                foreach (var (key, entry) in mirror)
                {
                    _observer.OnUpsert(Name, kind, key, entry.Raw, entry.Value);
                }

                _delivered[(int)kind] = true;
                _observer.OnSynced(Name, kind);
            }

            session.Synced[(int)kind] = true;
            ready = TryBecomeReadyLocked(session);
        }

        if (ready)
        {
            Log.Ready(_logger, Name);
        }
    }

    // Ready once every kind is synced, and, after a reconnect for a heartbeat that stood still, once the
    // heartbeat has been seen moving again (else the remote would flap between Ready and Failing).
    private bool TryBecomeReadyLocked(Session session)
    {
        if (session.WasReady || !session.Synced.All(s => s) || _awaitingHeartbeat)
        {
            return false;
        }

        session.WasReady = true;
        session.ReleaseGate();
        _state = RemoteClusterState.Ready;
        _staleSince = null;
        _staleTimer?.Dispose();
        _staleTimer = null;
        return true;
    }

    private void RecordFailure(SessionEnd end)
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            _failures++;
            _lastFailure = now;
            _awaitingHeartbeat |= end.MetricReason == HeartbeatReason;
            _lastFailureReason = end.Reason;
            if (_state != RemoteClusterState.Removed)
            {
                _state = end.Kind == SessionEndKind.Refused ? RemoteClusterState.Refused : RemoteClusterState.Failing;
            }

            if (_applied is not null && _staleSince is null)
            {
                _staleSince = now;
                if (_options.StaleTtl > TimeSpan.Zero)
                {
                    _staleTimer = _time.CreateTimer(static s => ((RemoteCluster)s!).RevokeStaleServices(), this, _options.StaleTtl, Timeout.InfiniteTimeSpan);
                }
            }
        }

        RemoteClusterMetrics.Failures.Add(1, new KeyValuePair<string, object?>("cluster", Name), new KeyValuePair<string, object?>("reason", end.MetricReason));
        if (end.Kind == SessionEndKind.Refused)
        {
            Log.Refused(_logger, Name, end.Reason);
        }
        else
        {
            Log.Failed(_logger, Name, end.Reason);
        }
    }

    private void RevokeStaleServices()
    {
        int count;
        lock (_gate)
        {
            if (_staleSince is null)
            {
                return;
            }

            var services = _mirror[(int)ClusterMeshKind.Services];
            count = services.Count;
            foreach (var key in services.Keys)
            {
                if (_delivered[(int)ClusterMeshKind.Services])
                {
                    _observer.OnDelete(Name, ClusterMeshKind.Services, key);
                }
            }

            services.Clear();
        }

        Log.RevokedServices(_logger, Name, count, _options.StaleTtl.TotalSeconds);
    }

    private void DrainLocked(string reason)
    {
        var count = 0;
        foreach (var kind in ClusterMeshKindExtensions.All)
        {
            var mirror = _mirror[(int)kind];
            if (_delivered[(int)kind])
            {
                foreach (var key in mirror.Keys)
                {
                    _observer.OnDelete(Name, kind, key);
                }
            }

            count += mirror.Count;
            mirror.Clear();
            _delivered[(int)kind] = false;
        }

        _applied = null;
        _awaitingHeartbeat = false;
        _registry.Release(Name);
        _staleSince = null;
        _staleTimer?.Dispose();
        _staleTimer = null;
        Log.Drained(_logger, Name, count, reason);
    }

    private static bool Incompatible(CiliumClusterConfig previous, CiliumClusterConfig next) =>
        previous.Id != next.Id || previous.Capabilities.Cached != next.Capabilities.Cached;

    private static RemoteClusterFailureException Failure(string reason, string metricReason) =>
        new(new SessionEnd(reason, SessionEndKind.Failure, metricReason));

    private static RemoteClusterFailureException Refusal(string reason) =>
        new(new SessionEnd(reason, SessionEndKind.Refused, "refused"));

    private static async Task Quietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private enum SessionEndKind
    {
        /// <summary>Not a failure (config changed): reconnect at once.</summary>
        Reconnect,
        Failure,
        Refused,
    }

    private sealed record SessionEnd(string Reason, SessionEndKind Kind, string MetricReason = "");

    private sealed class RemoteClusterFailureException(SessionEnd end) : Exception(end.Reason)
    {
        public SessionEnd End { get; } = end;
    }

    /// <summary>One connection: its client's tasks, what its listings showed, and how it ended.</summary>
    private sealed class Session(CancellationTokenSource cts, DateTimeOffset started)
    {
        private readonly TaskCompletionSource<SessionEnd> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CancellationToken Token { get; } = cts.Token;

        public Task<SessionEnd> Ended => _ended.Task;

        /// <summary>Set under the cluster's gate: once closed, nothing this session's stores report is applied.</summary>
        public bool Closed { get; set; }

        public bool WasReady { get; set; }

        private SemaphoreSlim? _gateHeld;

        /// <summary>Records the slot of the initial-sync gate this session holds, until <see cref="ReleaseGate"/>.</summary>
        public void HoldGate(SemaphoreSlim gate) => _gateHeld = gate;

        /// <summary>Gives the slot back, once.</summary>
        public void ReleaseGate() => Interlocked.Exchange(ref _gateHeld, null)?.Release();

        public DateTimeOffset LastHeartbeatChange { get; set; } = started;

        public HashSet<string>[] Seen { get; } = [.. Enumerable.Range(0, KindCount).Select(_ => new HashSet<string>(StringComparer.Ordinal))];

        public bool[] Synced { get; } = new bool[KindCount];

        public void End(SessionEnd end)
        {
            if (_ended.TrySetResult(end))
            {
                try
                {
                    cts.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }
        }
    }

    private sealed class KindObserver(RemoteCluster owner, Session session, ClusterMeshKind kind) : IWatchStoreObserver<RemoteEntry>
    {
        public void OnUpsert(string key, RemoteEntry value) => owner.OnStoreUpsert(session, kind, key, value);

        public void OnDelete(string key, RemoteEntry lastValue) => owner.OnStoreDelete(session, kind, key);

        public void OnSynced() => owner.OnStoreSynced(session, kind);
    }
}
