namespace Federation.ClusterMesh.ApiServer.KvStoreMesh;

internal sealed partial class KvStoreMesh
{
    [LoggerMessage(1, LogLevel.Warning, "kvstoremesh: this term ended with an error, retrying: {Reason}")]
    private partial void LogTermFailed(string reason);

    [LoggerMessage(2, LogLevel.Warning, "kvstoremesh: applying an event of {Cluster} ({Kind}) failed, retrying: {Reason}")]
    private partial void LogEventFailed(string cluster, string kind, string reason);

    [LoggerMessage(3, LogLevel.Information, "kvstoremesh: {Cluster} removed from the configuration; its config is deleted, its cached entries follow in {GraceSeconds}s")]
    private partial void LogRemoved(string cluster, double graceSeconds);

    [LoggerMessage(4, LogLevel.Information, "kvstoremesh: {Cluster} drained ({Entries} cached entries)")]
    private partial void LogDrained(string cluster, int entries);

    [LoggerMessage(5, LogLevel.Information, "kvstoremesh: {Cluster} configured again before its drain; its cache is kept")]
    private partial void LogReadded(string cluster);

    [LoggerMessage(6, LogLevel.Information, "kvstoremesh: the cache of {Cluster}, no longer configured, is left over from an earlier run; draining it")]
    private partial void LogLeftover(string cluster);
}
