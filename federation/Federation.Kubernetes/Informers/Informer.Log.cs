using Microsoft.Extensions.Logging;

namespace Federation.Kubernetes.Informers;

public sealed partial class Informer<T>
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Informer {Informer}: listed {Count} objects at resource version {ResourceVersion} ({Added} added, {Updated} updated, {Deleted} deleted)")]
        public static partial void Listed(ILogger logger, string informer, int count, string? resourceVersion, int added, int updated, int deleted);

        [LoggerMessage(2, LogLevel.Information, "Informer {Informer}: synced with {Count} objects at resource version {ResourceVersion}")]
        public static partial void Synced(ILogger logger, string informer, int count, string? resourceVersion);

        [LoggerMessage(3, LogLevel.Information, "Informer {Informer}: resource version {ResourceVersion} is gone ({Reason}); re-listing")]
        public static partial void Gone(ILogger logger, string informer, string? resourceVersion, string reason);

        [LoggerMessage(4, LogLevel.Warning, "Informer {Informer}: {ErrorType}: {Reason}; retrying in {DelayMs:0}ms")]
        public static partial void Failed(ILogger logger, string informer, string errorType, string reason, double delayMs);

        [LoggerMessage(5, LogLevel.Debug, "Informer {Informer}: watch ended after {Events} events; resuming from {ResourceVersion}")]
        public static partial void WatchEnded(ILogger logger, string informer, int events, string? resourceVersion);

        [LoggerMessage(6, LogLevel.Error, "Informer {Informer}: an observer threw; the change stays applied")]
        public static partial void ObserverFailed(ILogger logger, string informer, Exception exception);

        [LoggerMessage(7, LogLevel.Warning,
            "Informer {Informer}: skipped {Resource} {Key} (uid {Uid}, resource version {ResourceVersion}): it cannot be decoded ({Reason}): {Error}; the rest is applied")]
        public static partial void Undecodable(ILogger logger, string informer, string resource, string key, string? uid, string? resourceVersion, string reason, string error);

        [LoggerMessage(8, LogLevel.Debug, "Informer {Informer}: skipped {Resource} {Key} again (resource version {ResourceVersion}, {Reason})")]
        public static partial void UndecodableAgain(ILogger logger, string informer, string resource, string key, string? resourceVersion, string reason);
    }
}
