using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Mesh.Remote;

/// <summary>
/// Connects to every remote cluster of the config directory and keeps following it: a new file
/// connects, a changed file (or changed certificate content) reconnects, a removed file disconnects
/// and deletes what that cluster provided. Each remote has an etcd client of its own; the remotes and the
/// registry of their cluster IDs are kept by a <see cref="RemoteClusterSet"/>.
/// </summary>
public sealed partial class RemoteClusterManager : IRemoteClusterSource
{
    private readonly RemoteClusterOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly RemoteClusterSet _remotes;
    private readonly Channel<bool> _trigger = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly SemaphoreSlim _reconcile = new(1, 1);
    private CancellationTokenSource? _stop;
    private FileSystemWatcher? _watcher;
    private Task? _loop;

    /// <summary>Creates the manager; throws <see cref="ArgumentException"/> naming every invalid option.</summary>
    public RemoteClusterManager(
        RemoteClusterOptions options, IRemoteClusterObserver observer, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(observer);
        var errors = Validate(options);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid remote cluster options: " + string.Join("; ", errors));
        }

        _options = options;
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger<RemoteClusterManager>();
        _time = timeProvider ?? TimeProvider.System;
        _remotes = new RemoteClusterSet(options, new OwnedRemoteClusterClientProvider(options, _time, loggerFactory), observer, loggerFactory, _time);
    }

    /// <summary>Reads the config directory, starts a connection per remote and follows the directory until stopped.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_stop is not null)
        {
            throw new InvalidOperationException("The remote cluster manager is already started.");
        }

        _stop = new CancellationTokenSource();
        RemoteClusterMetrics.Register(this);
        await ReconcileAsync(cancellationToken).ConfigureAwait(false);
        _watcher = TryWatchDirectory();
        _loop = FollowDirectoryAsync(_stop.Token);
    }

    /// <summary>Stops every connection, keeping what the observer was told (no deletes).</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_stop is null || _stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _watcher?.Dispose();
        if (_loop is { } loop)
        {
            await loop.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await _remotes.StopAsync(cancellationToken).ConfigureAwait(false);
        RemoteClusterMetrics.Unregister(this);
    }

    /// <summary>Every remote cluster, and every config file that was rejected, with the reason.</summary>
    public RemoteClustersStatus GetStatus() => _remotes.GetStatus();

    /// <summary>Reads the config directory now rather than at the next poll.</summary>
    public void Rescan() => _trigger.Writer.TryWrite(true);

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stop?.Dispose();
        _reconcile.Dispose();
    }

    private async Task FollowDirectoryAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var poll = Task.Delay(_options.ConfigPollInterval, _time, wait.Token);
                var triggered = _trigger.Reader.WaitToReadAsync(wait.Token).AsTask();
                await Task.WhenAny(poll, triggered).ConfigureAwait(false);
                await wait.CancelAsync().ConfigureAwait(false);
                _trigger.Reader.TryRead(out _);
            }

            try
            {
                await ReconcileAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ReconcileFailed(_logger, _options.ConfigDirectory, ex);
            }
        }
    }

    private async Task ReconcileAsync(CancellationToken cancellationToken)
    {
        await _reconcile.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var scan = RemoteClusterConfigDirectory.Scan(_options.ConfigDirectory, _options.LocalClusterName);

            // A file that is present but unusable (e.g. caught half-written) keeps its remote running on
            // the last good config: only a removed file disconnects.
            var present = scan.Rejected.Select(r => r.FileName).ToHashSet(StringComparer.Ordinal);
            await _remotes.ReconcileAsync(scan.Clusters, scan.Rejected, present, "the config directory").ConfigureAwait(false);
        }
        finally
        {
            _reconcile.Release();
        }
    }

    private FileSystemWatcher? TryWatchDirectory()
    {
        try
        {
            var watcher = new FileSystemWatcher(_options.ConfigDirectory) { IncludeSubdirectories = false };
            FileSystemEventHandler changed = (_, _) => Rescan();
            watcher.Created += changed;
            watcher.Changed += changed;
            watcher.Deleted += changed;
            watcher.Renamed += (_, _) => Rescan();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is ArgumentException or IOException or PlatformNotSupportedException)
        {
            // Polling alone still follows the directory, only later.
            Log.NoWatcher(_logger, _options.ConfigDirectory, ex.Message);
            return null;
        }
    }

    /// <summary>The options' problems, and the config directory the manager needs; empty when valid.</summary>
    internal static IReadOnlyList<string> Validate(RemoteClusterOptions options)
    {
        var errors = options.Validate().ToList();
        if (string.IsNullOrWhiteSpace(options.ConfigDirectory))
        {
            errors.Add($"{nameof(RemoteClusterOptions.ConfigDirectory)}: a directory is required (one file per remote cluster)");
        }

        return errors;
    }

    private static partial class Log
    {
        [LoggerMessage(4, LogLevel.Error, "Reading the remote cluster config directory {Directory} failed")]
        public static partial void ReconcileFailed(ILogger logger, string directory, Exception exception);

        [LoggerMessage(5, LogLevel.Warning, "Cannot watch {Directory} for changes ({Reason}); polling only")]
        public static partial void NoWatcher(ILogger logger, string directory, string reason);
    }
}
