namespace Federation.Etcd;

/// <summary>
/// A lease kept alive by the client on the shared LeaseKeepAlive stream. The stream is re-established
/// when it breaks; the lease is reported lost only when etcd says it no longer exists.
/// Disposing stops the keep-alives (the lease then expires on its own TTL; revoke it to end it now).
/// </summary>
public sealed class LeaseKeepAlive : IAsyncDisposable
{
    private readonly CancellationTokenSource _lost = new();
    private readonly Func<LeaseKeepAlive, ValueTask> _onDispose;
    private long _ttlSeconds;
    private long _lastRenewedTicks;
    private string? _lostReason;

    internal LeaseKeepAlive(long leaseId, long ttlSeconds, DateTimeOffset now, Func<LeaseKeepAlive, ValueTask> onDispose)
    {
        LeaseId = leaseId;
        _ttlSeconds = ttlSeconds;
        _lastRenewedTicks = now.UtcTicks;
        _onDispose = onDispose;
    }

    public long LeaseId { get; }

    /// <summary>TTL granted by the server at the last renewal, in seconds.</summary>
    public long TtlSeconds => Interlocked.Read(ref _ttlSeconds);

    /// <summary>When the server last confirmed the lease.</summary>
    public DateTimeOffset LastRenewed => new(Interlocked.Read(ref _lastRenewedTicks), TimeSpan.Zero);

    /// <summary>Cancelled when etcd reports the lease gone (expired or revoked).</summary>
    public CancellationToken Lost => _lost.Token;

    public bool IsLost => _lost.IsCancellationRequested;

    /// <summary>Why the lease was lost, once it is.</summary>
    public string? LostReason => Volatile.Read(ref _lostReason);

    /// <summary>Number of confirmed renewals; for tests and status.</summary>
    public long Renewals { get; private set; }

    internal DateTimeOffset LastSent { get; set; }

    internal void Renewed(long ttlSeconds, DateTimeOffset now)
    {
        Interlocked.Exchange(ref _ttlSeconds, ttlSeconds);
        Interlocked.Exchange(ref _lastRenewedTicks, now.UtcTicks);
        Renewals++;
    }

    internal void MarkLost(string reason)
    {
        if (Interlocked.CompareExchange(ref _lostReason, reason, null) is null)
        {
            _lost.Cancel();
        }
    }

    public ValueTask DisposeAsync() => _onDispose(this);
}
