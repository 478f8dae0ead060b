using System.Text;
using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Store;

/// <summary>
/// Writes the current time (RFC 3339) to a heartbeat key now and then every <c>interval</c>, through a
/// <see cref="SyncStore"/> so the key is leased and re-written if its lease is lost. Readers track when
/// they last saw the value change.
/// </summary>
public sealed class HeartbeatWriter
{
    /// <summary>ClusterMesh rewrites the heartbeat every minute.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMinutes(1);

    private readonly SyncStore _store;
    private readonly string _key;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;

    public HeartbeatWriter(SyncStore store, string key, TimeSpan? interval = null, TimeProvider? timeProvider = null)
    {
        _store = store;
        _key = key;
        _interval = interval ?? DefaultInterval;
        _time = timeProvider ?? TimeProvider.System;
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Beat();
        using var timer = new PeriodicTimer(_interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                Beat();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Beat() => _store.Upsert(_key, Encoding.UTF8.GetBytes(ClusterMeshTimestamp.Format(_time.GetUtcNow())));
}
