using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Export;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.Protocol;
using Google.Protobuf;

namespace Federation.ClusterMesh.ApiServer.HighAvailability;

/// <summary>
/// Leader election between replicas through one etcd key, <c>cilium/.clustermesh-apiserver/leader/&lt;cluster&gt;</c>:
/// a replica campaigns by creating it (value = its replica id) in a "create if missing" Txn, attached to a lease
/// that it keeps alive. The leader leads until the lease is lost (etcd says so, or no renewal arrived for most of
/// the TTL: cut off from etcd), or the key is deleted or changed by anyone else. Standbys watch the key and
/// campaign when it disappears (the leader's lease expired or was revoked). On shutdown the leader resigns by
/// revoking its lease, so a standby takes over at once instead of after the TTL.
/// </summary>
internal sealed partial class EtcdLeaderElection : BackgroundService, ILeadership, IStatusContributor
{
    /// <summary>A leader steps down when no renewal arrived for this share of the TTL, before etcd can expire the lease.</summary>
    private const double RenewalDeadlineShare = 0.8;

    private static readonly TimeSpan RevokeTimeout = TimeSpan.FromSeconds(3);

    private readonly IEtcdClient _etcd;
    private readonly TimeProvider _time;
    private readonly ILogger<EtcdLeaderElection> _logger;
    private readonly string _replica;
    private readonly string _key;
    private readonly ByteString _keyBytes;
    private readonly TimeSpan _ttl;
    private readonly Lock _gate = new();
    private TaskCompletionSource<CancellationToken> _nextTerm = NewTerm();
    private CancellationTokenSource? _term;
    private string? _holder;
    private long _leaseId;
    private long _elections;
    private DateTimeOffset? _leadingSince;

    public EtcdLeaderElection(IEtcdClient etcd, ApiServerOptions options, LeaderElectionOptions election, TimeProvider time, ILogger<EtcdLeaderElection> logger)
    {
        _etcd = etcd;
        _time = time;
        _logger = logger;
        _replica = options.ReplicaId ?? throw new ArgumentException("--replica-id is required for leader election", nameof(options));
        _key = LeaderElectionOptions.Key(options.ClusterName);
        _keyBytes = ByteString.CopyFromUtf8(_key);
        _ttl = election.LeaseTtl;
    }

    public bool IsLeader
    {
        get
        {
            lock (_gate)
            {
                return _term is not null;
            }
        }
    }

    /// <summary>The replica id in the election key as last seen; null when unknown or vacant.</summary>
    public string? Holder
    {
        get
        {
            lock (_gate)
            {
                return _holder;
            }
        }
    }

    public string Name => "leaderElection";

    public async Task<CancellationToken> WaitForLeadershipAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<CancellationToken> next;
            lock (_gate)
            {
                next = _nextTerm.Task;
            }

            var term = await next.WaitAsync(cancellationToken).ConfigureAwait(false);
            if (!term.IsCancellationRequested)
            {
                return term;
            }

            // That term has ended already; a new, pending one replaced it before its token was cancelled.
        }
    }

    public JsonNode GetStatus()
    {
        lock (_gate)
        {
            return new JsonObject
            {
                ["replica"] = _replica,
                ["leader"] = _term is not null,
                ["holder"] = _holder,
                ["key"] = _key,
                ["leaseID"] = _leaseId,
                ["leaseTTLSeconds"] = (long)_ttl.TotalSeconds,
                ["leadingSince"] = _leadingSince?.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
                ["elections"] = _elections,
            };
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        try
        {
            // The loop that owns reconnection for the election: every pass is one lease's life.
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await CampaignAsync(stoppingToken).ConfigureAwait(false);
                    failures = 0;
                }
                catch (EtcdException ex) when (!stoppingToken.IsCancellationRequested)
                {
                    Demote($"etcd failed: {ex.Message}");
                    var delay = Backoff(++failures);
                    LogEtcdFailed(_replica, ex.Message, delay);
                    await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            LogCrashed(ex, _replica);
            throw;
        }
        finally
        {
            Demote("shutting down");
        }
    }

    /// <summary>One lease: campaign, lead or stand by, until the lease is lost, leadership ends, or shutdown.</summary>
    private async Task CampaignAsync(CancellationToken stoppingToken)
    {
        var grant = await _etcd.LeaseGrantAsync((long)Math.Ceiling(_ttl.TotalSeconds), 0, stoppingToken).ConfigureAwait(false);
        var keepAlive = _etcd.KeepAlive(grant.ID, grant.TTL);
        lock (_gate)
        {
            _leaseId = grant.ID;
        }

        LogCampaigning(_replica, _key, grant.ID, grant.TTL);
        try
        {
            while (!stoppingToken.IsCancellationRequested && !keepAlive.IsLost)
            {
                var response = await _etcd.TxnAsync(CreateIfMissing(grant.ID), stoppingToken).ConfigureAwait(false);
                if (response.Succeeded)
                {
                    await LeadAsync(keepAlive, response.Header.Revision, stoppingToken).ConfigureAwait(false);
                    return;
                }

                var current = response.Responses[0].ResponseRange.Kvs.FirstOrDefault();
                if (current is null)
                {
                    continue;
                }

                var holder = current.Value.ToStringUtf8();
                if (holder == _replica && current.Lease != grant.ID)
                {
                    // This replica's earlier life (restarted before its lease expired): take the key over now.
                    var takeOver = await _etcd.TxnAsync(ReplaceOwn(current.ModRevision, grant.ID), stoppingToken).ConfigureAwait(false);
                    if (takeOver.Succeeded)
                    {
                        LogTookOver(_replica, current.Lease);
                        await LeadAsync(keepAlive, takeOver.Header.Revision, stoppingToken).ConfigureAwait(false);
                        return;
                    }

                    continue;
                }

                SetHolder(holder);
                await WatchUntilVacantAsync(current.ModRevision, keepAlive, stoppingToken).ConfigureAwait(false);
            }
        }
        finally
        {
            await keepAlive.DisposeAsync().ConfigureAwait(false);
            if (!keepAlive.IsLost)
            {
                // Resign (or leave the race): revoking deletes the key if it is ours, so a standby takes over at once.
                await RevokeAsync(grant.ID).ConfigureAwait(false);
            }
        }
    }

    private TxnRequest CreateIfMissing(long leaseId)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(TxnCompare.Missing(_key));
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _keyBytes, Value = ByteString.CopyFromUtf8(_replica), Lease = leaseId } });
        txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = _keyBytes } });
        return txn;
    }

    private TxnRequest ReplaceOwn(long modRevision, long leaseId)
    {
        var txn = new TxnRequest();
        txn.Compare.Add(TxnCompare.ModRevision(_key, Compare.Types.CompareResult.Equal, modRevision));
        txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = _keyBytes, Value = ByteString.CopyFromUtf8(_replica), Lease = leaseId } });
        return txn;
    }

    /// <summary>Leads until shutdown, the lease is lost, renewals stop arriving, or the key is no longer ours.</summary>
    private async Task LeadAsync(LeaseKeepAlive keepAlive, long revision, CancellationToken stoppingToken)
    {
        var term = new CancellationTokenSource();
        long elections;
        lock (_gate)
        {
            _term = term;
            _holder = _replica;
            _leadingSince = _time.GetUtcNow();
            elections = ++_elections;
            _nextTerm.TrySetResult(term.Token);
        }

        LogElected(_replica, _key, keepAlive.LeaseId, elections);
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, keepAlive.Lost);
        string? reason = null;
        void End(string why)
        {
            Interlocked.CompareExchange(ref reason, why, null);
            ended.Cancel();
        }

        var watching = WatchOwnKeyAsync(revision, keepAlive.LeaseId, End, ended.Token);
        var checking = CheckRenewalsAsync(keepAlive, End, ended.Token);
        await Task.WhenAll(watching, checking).ConfigureAwait(false);
        reason ??= stoppingToken.IsCancellationRequested ? "shutting down (resigning)" : $"lease lost: {keepAlive.LostReason}";
        Demote(reason);
    }

    private async Task WatchOwnKeyAsync(long revision, long leaseId, Action<string> end, CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    await foreach (var response in _etcd.WatchAsync(new WatchCreateRequest { Key = _keyBytes, StartRevision = revision + 1 }, cancellationToken).ConfigureAwait(false))
                    {
                        foreach (var ev in response.Events)
                        {
                            revision = ev.Kv.ModRevision;
                            if (ev.Type == Event.Types.EventType.Delete)
                            {
                                end("the election key was deleted");
                                return;
                            }

                            if (ev.Kv.Value.ToStringUtf8() != _replica || ev.Kv.Lease != leaseId)
                            {
                                end($"the election key was taken by '{ev.Kv.Value.ToStringUtf8()}'");
                                return;
                            }
                        }
                    }
                }
                catch (EtcdException ex) when (!cancellationToken.IsCancellationRequested)
                {
                    // The watch ended (e.g. compacted): read the key and keep leading only if it is still ours.
                    LogWatchFailed(_replica, ex.Message);
                    var response = await _etcd.RangeAsync(new RangeRequest { Key = _keyBytes }, cancellationToken).ConfigureAwait(false);
                    var kv = response.Kvs.FirstOrDefault();
                    if (kv is null || kv.Value.ToStringUtf8() != _replica || kv.Lease != leaseId)
                    {
                        end("the election key is no longer this replica's");
                        return;
                    }

                    revision = response.Header.Revision;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (EtcdException ex)
        {
            end($"watching the election key failed: {ex.Message}");
        }
    }

    /// <summary>Cut off from etcd, the keep-alive cannot learn that the lease expired: step down before it can.</summary>
    private async Task CheckRenewalsAsync(LeaseKeepAlive keepAlive, Action<string> end, CancellationToken cancellationToken)
    {
        var deadline = _ttl * RenewalDeadlineShare;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Max(100, _ttl.TotalMilliseconds / 20)), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var silence = _time.GetUtcNow() - keepAlive.LastRenewed;
                if (silence > deadline)
                {
                    end($"no lease renewal from etcd for {silence.TotalSeconds:0.#}s (TTL {_ttl.TotalSeconds:0.#}s)");
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Stands by until the key disappears (the leader's lease expired or was revoked).</summary>
    private async Task WatchUntilVacantAsync(long revision, LeaseKeepAlive keepAlive, CancellationToken stoppingToken)
    {
        using var watching = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, keepAlive.Lost);
        try
        {
            await foreach (var response in _etcd.WatchAsync(new WatchCreateRequest { Key = _keyBytes, StartRevision = revision + 1 }, watching.Token).ConfigureAwait(false))
            {
                foreach (var ev in response.Events)
                {
                    if (ev.Type == Event.Types.EventType.Delete)
                    {
                        LogVacant(_replica, _key);
                        SetHolder(null);
                        return;
                    }

                    SetHolder(ev.Kv.Value.ToStringUtf8());
                }
            }
        }
        catch (OperationCanceledException) when (watching.IsCancellationRequested)
        {
        }
        catch (RevisionCompactedException)
        {
            // Campaign again: the Txn reads the key as it is now.
        }
    }

    private void SetHolder(string? holder)
    {
        bool changed;
        lock (_gate)
        {
            changed = _holder != holder;
            _holder = holder;
        }

        if (changed && holder is not null)
        {
            LogStandingBy(_replica, holder);
        }
    }

    private void Demote(string reason)
    {
        CancellationTokenSource? term;
        lock (_gate)
        {
            term = _term;
            if (term is null)
            {
                return;
            }

            _term = null;
            _holder = null;
            _leadingSince = null;
            // A fresh pending term first, so a waiter woken by the cancellation below waits for the next one.
            _nextTerm = NewTerm();
        }

        LogLost(_replica, reason);
        // Not disposed: exporters may still hold the token (or link to it) when they notice.
        term.Cancel();
    }

    private async Task RevokeAsync(long leaseId)
    {
        using var timeout = new CancellationTokenSource(RevokeTimeout, _time);
        try
        {
            await _etcd.LeaseRevokeAsync(leaseId, timeout.Token).ConfigureAwait(false);
            LogRevoked(_replica, leaseId);
        }
        catch (Exception ex) when (ex is EtcdException or OperationCanceledException)
        {
            // It expires on its own TTL then.
            LogRevokeFailed(_replica, leaseId, ex.Message);
        }
    }

    private TimeSpan Backoff(int failures)
    {
        var cap = Math.Min(_ttl.TotalMilliseconds / 3, 200 * Math.Pow(2, Math.Min(failures, 10)));
        return TimeSpan.FromMilliseconds(cap / 2 + Random.Shared.NextDouble() * cap / 2);
    }

    private static TaskCompletionSource<CancellationToken> NewTerm() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
