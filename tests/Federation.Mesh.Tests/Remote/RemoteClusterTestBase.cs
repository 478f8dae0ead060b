using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

/// <summary>A config directory, an observer and a manager with test-speed timings; remotes are disposed with the test.</summary>
public abstract class RemoteClusterTestBase : IAsyncLifetime
{
    internal const string LocalCluster = "a";
    internal const uint LocalClusterId = 1;

    /// <summary>Short, so that a lost remote is noticed quickly; RemoteEtcd beats four times per interval.</summary>
    internal static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(1);

    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly List<IAsyncDisposable> _disposables = [];

    internal RecordingRemoteObserver Observer { get; } = new();

    protected string ConfigDirectory { get; } = Directory.CreateTempSubdirectory("federation-remote-").FullName;

    internal RemoteClusterManager? Manager { get; private set; }

    /// <summary>The source under test when it is not a manager (disposed with the test, before the remotes).</summary>
    internal IRemoteClusterSource? Source { get; set; }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (Manager is not null)
        {
            await Manager.DisposeAsync();
        }

        if (Source is not null)
        {
            await Source.DisposeAsync();
        }

        foreach (var disposable in Enumerable.Reverse(_disposables))
        {
            await disposable.DisposeAsync();
        }

        Directory.Delete(ConfigDirectory, recursive: true);
    }

    internal RemoteClusterOptions Options(Action<RemoteClusterOptions>? configure = null)
    {
        var options = new RemoteClusterOptions
        {
            LocalClusterName = LocalCluster,
            LocalClusterId = LocalClusterId,
            ConfigDirectory = ConfigDirectory,
            ConfigPollInterval = TimeSpan.FromMilliseconds(500),
            HeartbeatInterval = HeartbeatInterval,
            BackoffMin = TimeSpan.FromMilliseconds(100),
            BackoffMax = TimeSpan.FromMilliseconds(500),
            DialTimeout = TimeSpan.FromSeconds(1),
            RequestTimeout = TimeSpan.FromSeconds(2),
        };
        configure?.Invoke(options);
        return options;
    }

    internal async Task<RemoteClusterManager> StartManagerAsync(Action<RemoteClusterOptions>? configure = null)
    {
        Manager = new RemoteClusterManager(Options(configure), Observer);
        await Manager.StartAsync(CancellationToken.None);
        return Manager;
    }

    internal async Task<RemoteEtcd> StartRemoteAsync(string name, uint id, bool tls = false, bool syncedCanaries = true, bool writeClusterConfig = true)
    {
        var remote = await RemoteEtcd.StartAsync(name, id, tls, syncedCanaries, writeClusterConfig);
        _disposables.Add(remote);
        return remote;
    }

    internal T Track<T>(T disposable)
        where T : IAsyncDisposable
    {
        _disposables.Add(disposable);
        return disposable;
    }

    internal RemoteClusterStatus? Status(string cluster) => (Source ?? Manager)!.GetStatus().Find(cluster);

    internal Task WaitForStateAsync(string cluster, RemoteClusterState state, TimeSpan? timeout = null) =>
        Eventually.TrueAsync(() => Status(cluster)?.State == state, timeout ?? Timeout, $"{cluster} {state} (now {Describe(cluster)})");

    internal string Describe(string cluster) => Status(cluster) is { } s
        ? $"{s.State}, failure: {s.LastFailureReason ?? "none"}, entries: {string.Join(",", s.Kinds.Select(k => $"{k.Key}={k.Value.Entries}{(k.Value.Synced ? "" : "?")}"))}"
        : "absent";

    /// <summary>Waits until the observer's view of <paramref name="remote"/> is byte for byte what its etcd holds.</summary>
    internal Task WaitForObserverToMatchAsync(RemoteEtcd remote, string what) => Eventually.TrueAsync(
        async () =>
        {
            var expected = await remote.StateAsync();
            var actual = Observer.Entries(remote.Name);
            return expected.Count == actual.Count && expected.All(e => actual.TryGetValue(e.Key, out var bytes) && bytes.AsSpan().SequenceEqual(e.Value));
        },
        Timeout,
        what);

    internal static ClusterMeshKind[] AllKinds => [.. ClusterMeshKindExtensions.All];
}
