namespace Federation.ClusterMesh.ApiServer.HighAvailability;

internal sealed partial class EtcdLeaderElection
{
    [LoggerMessage(1, LogLevel.Information, "Replica {Replica} campaigning for {Key} with lease {LeaseId:x} (TTL {TtlSeconds}s)")]
    private partial void LogCampaigning(string replica, string key, long leaseId, long ttlSeconds);

    [LoggerMessage(2, LogLevel.Information, "Replica {Replica} is the leader ({Key}, lease {LeaseId:x}, election {Elections})")]
    private partial void LogElected(string replica, string key, long leaseId, long elections);

    [LoggerMessage(3, LogLevel.Warning, "Replica {Replica} lost leadership: {Reason}")]
    private partial void LogLost(string replica, string reason);

    [LoggerMessage(4, LogLevel.Information, "Replica {Replica} standing by; the leader is {Holder}")]
    private partial void LogStandingBy(string replica, string holder);

    [LoggerMessage(5, LogLevel.Information, "Replica {Replica}: the leader's key {Key} is gone; campaigning")]
    private partial void LogVacant(string replica, string key);

    [LoggerMessage(6, LogLevel.Information, "Replica {Replica} took over the election key left by its previous run (lease {OldLeaseId:x})")]
    private partial void LogTookOver(string replica, long oldLeaseId);

    [LoggerMessage(7, LogLevel.Information, "Replica {Replica} revoked its election lease {LeaseId:x}")]
    private partial void LogRevoked(string replica, long leaseId);

    [LoggerMessage(8, LogLevel.Warning, "Replica {Replica} could not revoke its election lease {LeaseId:x} ({Reason}); it expires on its TTL")]
    private partial void LogRevokeFailed(string replica, long leaseId, string reason);

    [LoggerMessage(9, LogLevel.Warning, "Replica {Replica}: leader election against etcd failed: {Reason}; retrying in {Delay}")]
    private partial void LogEtcdFailed(string replica, string reason, TimeSpan delay);

    [LoggerMessage(10, LogLevel.Warning, "Replica {Replica}: the watch of the election key ended: {Reason}; checking the key")]
    private partial void LogWatchFailed(string replica, string reason);

    [LoggerMessage(11, LogLevel.Critical, "Replica {Replica}: the leader election stopped unexpectedly; stopping the server")]
    private partial void LogCrashed(Exception exception, string replica);
}
