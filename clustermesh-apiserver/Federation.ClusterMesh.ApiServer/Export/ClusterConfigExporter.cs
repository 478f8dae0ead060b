using Federation.ClusterMesh.ApiServer.HighAvailability;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Store;

namespace Federation.ClusterMesh.ApiServer.Export;

/// <summary>
/// Writes <c>cilium/cluster-config/&lt;name&gt;</c> (kept as written: edits and deletions by anyone else are
/// reverted) and the heartbeat, while this replica leads.
/// </summary>
internal sealed partial class ClusterConfigExporter : BackgroundService
{
    private readonly IEtcdClient _etcd;
    private readonly ApiServerOptions _options;
    private readonly ILeadership _leadership;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger<ClusterConfigExporter> _logger;
    private volatile bool _written;

    public ClusterConfigExporter(IEtcdClient etcd, ApiServerOptions options, ILeadership leadership, ExportReadiness readiness, ILoggerFactory loggerFactory)
    {
        _etcd = etcd;
        _options = options;
        _leadership = leadership;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ClusterConfigExporter>();
        readiness.Register("cluster-config", () => _written);
    }

    /// <summary>The value written for this cluster.</summary>
    public static byte[] ConfigValue(ApiServerOptions options) => ClusterMeshJson.Serialize(new CiliumClusterConfig
    {
        Id = options.ClusterId,
        Capabilities = new ClusterCapabilities
        {
            SyncedCanaries = true,
            MaxConnectedClusters = options.MaxConnectedClusters,
            ServiceExportsEnabled = false,
        },
    });

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var term = await _leadership.WaitForLeadershipAsync(stoppingToken).ConfigureAwait(false);
            using var leading = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, term);
            var key = ClusterMeshKeys.ClusterConfig(_options.ClusterName);
            await using var config = new SyncStore(_etcd, new SyncStoreOptions { Name = "cluster-config", OwnedPrefix = key, Enforce = true, LeaseTtl = _options.LeaseTtl }, _loggerFactory.CreateLogger<SyncStore>());
            await using var heartbeat = new SyncStore(_etcd, new SyncStoreOptions { Name = "heartbeat", LeaseTtl = _options.LeaseTtl }, _loggerFactory.CreateLogger<SyncStore>());
            try
            {
                await config.StartAsync(leading.Token).ConfigureAwait(false);
                await heartbeat.StartAsync(leading.Token).ConfigureAwait(false);
                config.Upsert(key, ConfigValue(_options));
                config.MarkInitialSyncDone();
                var beating = new HeartbeatWriter(heartbeat, ClusterMeshKeys.Heartbeat, _options.HeartbeatInterval).RunAsync(leading.Token);
                await config.Synced.WaitAsync(leading.Token).ConfigureAwait(false);
                _written = true;
                LogWritten(key);
                await beating.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (leading.IsCancellationRequested)
            {
            }
            catch (EtcdException ex)
            {
                LogFailed(ex.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            finally
            {
                _written = false;
                // Leases are kept, not revoked: the next leader rewrites the keys without a visible gap.
                await config.StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
                await heartbeat.StopAsync(revokeLeases: false, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(1, LogLevel.Information, "Cluster config {Key} written; heartbeat started")]
    private partial void LogWritten(string key);

    [LoggerMessage(2, LogLevel.Warning, "Writing the cluster config failed: {Reason}; retrying")]
    private partial void LogFailed(string reason);
}
