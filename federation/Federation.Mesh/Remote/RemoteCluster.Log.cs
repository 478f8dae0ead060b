using Microsoft.Extensions.Logging;

namespace Federation.Mesh.Remote;

internal sealed partial class RemoteCluster
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Remote cluster {Cluster}: connected, cluster ID {ClusterId} (cached: {Cached})")]
        public static partial void Connected(ILogger logger, string cluster, uint clusterId, bool cached);

        [LoggerMessage(2, LogLevel.Information, "Remote cluster {Cluster}: ready (every kind synced)")]
        public static partial void Ready(ILogger logger, string cluster);

        [LoggerMessage(3, LogLevel.Warning, "Remote cluster {Cluster}: {Reason}")]
        public static partial void Failed(ILogger logger, string cluster, string reason);

        [LoggerMessage(4, LogLevel.Error, "Remote cluster {Cluster} refused: {Reason}")]
        public static partial void Refused(ILogger logger, string cluster, string reason);

        [LoggerMessage(5, LogLevel.Debug, "Remote cluster {Cluster}: next connection attempt ({Attempt}) in {DelayMs:0}ms")]
        public static partial void Retrying(ILogger logger, string cluster, double delayMs, int attempt);

        [LoggerMessage(6, LogLevel.Information, "Remote cluster {Cluster}: reconnecting ({Reason})")]
        public static partial void Reconnecting(ILogger logger, string cluster, string reason);

        [LoggerMessage(7, LogLevel.Information, "Remote cluster {Cluster}: the config file changed; reconnecting with it")]
        public static partial void ConfigFileChanged(ILogger logger, string cluster);

        [LoggerMessage(8, LogLevel.Warning, "Remote cluster {Cluster}: unreachable for longer than {TtlSeconds}s; revoked its {Count} services")]
        public static partial void RevokedServices(ILogger logger, string cluster, int count, double ttlSeconds);

        [LoggerMessage(9, LogLevel.Information, "Remote cluster {Cluster}: deleted its {Count} entries: {Reason}")]
        public static partial void Drained(ILogger logger, string cluster, int count, string reason);

        [LoggerMessage(10, LogLevel.Critical, "Remote cluster {Cluster}: the connection loop failed unexpectedly; retrying")]
        public static partial void LoopFailed(ILogger logger, string cluster, Exception exception);
    }
}
