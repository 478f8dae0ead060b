namespace Federation.NodeAgent.Sync;

internal sealed partial class RemoteServiceObserver
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Remote cluster {Cluster}: applying {Key} to the service cache failed")]
        public static partial void Failed(ILogger logger, string cluster, string key, Exception exception);

        [LoggerMessage(2, LogLevel.Warning, "Remote cluster {Cluster}: cannot parse service key {Key}; delete ignored")]
        public static partial void UnparsableKey(ILogger logger, string cluster, string key);

        [LoggerMessage(3, LogLevel.Information, "Remote cluster {Cluster}: services synced")]
        public static partial void Synced(ILogger logger, string cluster);
    }
}
