using System.Collections.Concurrent;
using Federation.Etcd;
using Federation.Etcd.Protocol;

namespace Federation.ClusterMesh.ApiServer.Tests.HighAvailability;

/// <summary>Watches every key under <c>cilium/</c> from a revision on and keeps the events, as a reader of the cluster's etcd sees them.</summary>
internal sealed class EtcdRecorder : IAsyncDisposable
{
    private readonly IEtcdClient _etcd;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<Event> _events = new();
    private readonly Task _watching;
    private long _seenRevision;

    private EtcdRecorder(IEtcdClient etcd, long fromRevision)
    {
        _etcd = etcd;
        _seenRevision = fromRevision - 1;
        _watching = WatchAsync(fromRevision);
    }

    public IReadOnlyList<Event> Events => [.. _events];

    /// <summary>Starts recording at the next revision of etcd (nothing written after this call is missed).</summary>
    public static async Task<EtcdRecorder> StartAsync(IEtcdClient etcd)
    {
        var response = await etcd.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("cilium/") });
        return new EtcdRecorder(etcd, response.Header.Revision + 1);
    }

    /// <summary>Waits until every write made before this call has been seen.</summary>
    public async Task CatchUpAsync(TimeSpan timeout)
    {
        var revision = (await _etcd.RangeAsync(new RangeRequest { Key = Google.Protobuf.ByteString.CopyFromUtf8("cilium/") })).Header.Revision;
        await Eventually.TrueAsync(
            () =>
            {
                _etcd.RequestWatchProgress();
                return Task.FromResult(Interlocked.Read(ref _seenRevision) >= revision);
            },
            timeout,
            $"the watcher to reach revision {revision}");
    }

    private async Task WatchAsync(long fromRevision)
    {
        try
        {
            await foreach (var response in _etcd.WatchPrefixAsync("cilium/", fromRevision, progressNotify: true, cancellationToken: _stop.Token))
            {
                foreach (var ev in response.Events)
                {
                    _events.Enqueue(ev);
                }

                var revision = response.Header?.Revision ?? 0;
                if (response.Events.Count > 0)
                {
                    revision = Math.Max(revision, response.Events[^1].Kv.ModRevision);
                }

                if (revision > Interlocked.Read(ref _seenRevision))
                {
                    Interlocked.Exchange(ref _seenRevision, revision);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _watching;
        _stop.Dispose();
    }
}
