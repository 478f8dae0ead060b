using Federation.Mesh.Remote;

namespace Federation.NodeAgent.Sync;

/// <summary>Starts and stops the remote source with the host; stopping keeps what it delivered (the datapath stays as it is).</summary>
internal sealed class RemoteSourceService(IRemoteClusterSource source) : IHostedService
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once the source has read its configuration: from then on its status lists every remote it will wait for.</summary>
    public Task Started => _started.Task;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await source.StartAsync(cancellationToken).ConfigureAwait(false);
        if (source is CachedRemoteClusterSource cached)
        {
            // The cached source learns its remotes from a watch of the local etcd: not known until its first list.
            _ = cached.ConfigsListed.ContinueWith(
                listed => _ = listed.IsCompletedSuccessfully ? _started.TrySetResult() : _started.TrySetCanceled(CancellationToken.None),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
        else
        {
            _started.TrySetResult();
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _started.TrySetCanceled(CancellationToken.None);
        return source.StopAsync(cancellationToken);
    }
}
