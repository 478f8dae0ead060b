namespace Federation.ClusterMesh.ApiServer.Identities;

internal sealed partial class IdentityExporter
{
    [LoggerMessage(1, LogLevel.Information, "Identities: initial export queued ({Identities} identities, {IpEntries} ip entries)")]
    private partial void LogInitialExport(int identities, int ipEntries);

    [LoggerMessage(2, LogLevel.Warning, "Identities: exporting failed: {Reason}; retrying")]
    private partial void LogTermFailed(string reason);

    [LoggerMessage(3, LogLevel.Warning, "Identities: reconciling {Key} failed: {Reason}; retrying")]
    private partial void LogReconcileFailed(string key, string reason);

    [LoggerMessage(4, LogLevel.Error, "Identities: the identity range {Range} is exhausted; pod {Pod} is not exported")]
    private partial void LogRangeExhausted(string range, string pod);

    [LoggerMessage(5, LogLevel.Information, "Identities: released identity {Identity} ({Labels}) after its grace period")]
    private partial void LogReleased(uint identity, string labels);

    [LoggerMessage(6, LogLevel.Information, "Identities: deleted left-over {Key} (in this cluster's range, no longer allocated)")]
    private partial void LogSweptLeftover(string key);

    [LoggerMessage(7, LogLevel.Warning, "Identities: {Object} cannot be used ({Reason}): {Message}")]
    private partial void LogInvalid(string @object, string reason, string message);
}
