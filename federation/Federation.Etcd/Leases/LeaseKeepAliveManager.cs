using Federation.Etcd.Protocol;
using Federation.Etcd.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Etcd.Leases;

/// <summary>
/// Keeps every lease of a client alive on one LeaseKeepAlive stream, renewing each at a third of its
/// TTL. A broken stream is re-opened with backoff; leases stay registered meanwhile, and a lease is
/// declared lost only when the server answers that it does not exist (TTL ≤ 0).
/// </summary>
internal sealed partial class LeaseKeepAliveManager : IAsyncDisposable
{
    private const string Method = "/etcdserverpb.Lease/LeaseKeepAlive";
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);

    private readonly EtcdClient _client;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Dictionary<long, LeaseKeepAlive> _leases = [];
    private readonly CancellationTokenSource _disposed = new();
    private Task? _loop;

    public LeaseKeepAliveManager(EtcdClient client, ILogger logger)
    {
        _client = client;
        _logger = logger;
    }

    public LeaseKeepAlive Add(long leaseId, long ttlSeconds)
    {
        var lease = new LeaseKeepAlive(leaseId, ttlSeconds, _client.TimeProvider.GetUtcNow(), RemoveAsync);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            _leases[leaseId] = lease;
            _loop ??= Task.Run(RunAsync);
        }

        return lease;
    }

    private ValueTask RemoveAsync(LeaseKeepAlive lease)
    {
        lock (_gate)
        {
            if (_leases.TryGetValue(lease.LeaseId, out var current) && ReferenceEquals(current, lease))
            {
                _leases.Remove(lease.LeaseId);
            }
        }

        return ValueTask.CompletedTask;
    }

    private async Task RunAsync()
    {
        var token = _disposed.Token;
        var delay = _client.Options.ReconnectMinDelay;
        while (!token.IsCancellationRequested)
        {
            lock (_gate)
            {
                if (_leases.Count == 0)
                {
                    _loop = null;
                    return;
                }
            }

            var call = _client.Channel.CreateDuplex(Method, LeaseKeepAliveResponse.Parser);
            using var streamCts = CancellationTokenSource.CreateLinkedTokenSource(token);
            Task? sender = null;
            try
            {
                // Renew everything at once on a new stream: the old one may have been down a while.
                SendDue(call, force: true);
                await call.StartAsync(_client.Options.DialTimeout, token).ConfigureAwait(false);
                sender = SendLoopAsync(call, streamCts.Token);
                while (await call.ReadAsync(token).ConfigureAwait(false) is { } response)
                {
                    delay = _client.Options.ReconnectMinDelay;
                    OnResponse(response);
                }
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (EtcdUnauthenticatedException ex)
            {
                Log.StreamFailed(_logger, call.Endpoint, ex.Message);
                await _client.TryReauthenticateAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                Log.StreamFailed(_logger, call.Endpoint, $"{ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                await streamCts.CancelAsync().ConfigureAwait(false);
                if (sender is not null)
                {
                    await sender.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                }

                await call.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                await Task.Delay(TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + Random.Shared.NextDouble()))), _client.TimeProvider, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _client.Options.ReconnectMaxDelay.Ticks));
        }
    }

    private async Task SendLoopAsync(DuplexCall<LeaseKeepAliveResponse> call, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(Tick, _client.TimeProvider);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            SendDue(call, force: false);
        }
    }

    private void SendDue(DuplexCall<LeaseKeepAliveResponse> call, bool force)
    {
        var now = _client.TimeProvider.GetUtcNow();
        lock (_gate)
        {
            foreach (var lease in _leases.Values)
            {
                var interval = TimeSpan.FromSeconds(Math.Max(lease.TtlSeconds, 1) / 3.0);
                if (force || now - lease.LastSent >= interval)
                {
                    lease.LastSent = now;
                    call.TryWrite(new LeaseKeepAliveRequest { ID = lease.LeaseId });
                }
            }
        }
    }

    private void OnResponse(LeaseKeepAliveResponse response)
    {
        LeaseKeepAlive? lease;
        lock (_gate)
        {
            if (!_leases.TryGetValue(response.ID, out lease))
            {
                return;
            }

            if (response.TTL <= 0)
            {
                _leases.Remove(response.ID);
            }
        }

        if (response.TTL <= 0)
        {
            Log.LeaseLost(_logger, response.ID);
            lease.MarkLost("etcd reports the lease expired or revoked");
        }
        else
        {
            lease.Renewed(response.TTL, _client.TimeProvider.GetUtcNow());
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            loop = _loop;
            _leases.Clear();
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _disposed.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Lease keep-alive stream to {Endpoint} failed: {Reason}; re-opening with backoff")]
        public static partial void StreamFailed(ILogger logger, Uri? endpoint, string reason);

        [LoggerMessage(2, LogLevel.Warning, "Lease {LeaseId:x} is gone (expired or revoked)")]
        public static partial void LeaseLost(ILogger logger, long leaseId);
    }
}
