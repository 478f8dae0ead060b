namespace Federation.ClusterMesh.ApiServer.Security;

internal sealed partial class EtcdAccessBootstrap
{
    [LoggerMessage(1, LogLevel.Warning,
        "etcd access control is OFF for cluster {Cluster}: --etcd-cert-file is not set, so the apiserver does not reach etcd over mTLS " +
        "and etcd cannot tell clients apart by certificate; no etcd users or roles are created and auth is not enabled. " +
        "Serve etcd with client-certificate auth and pass --etcd-ca-file/--etcd-cert-file/--etcd-key-file (see 'clustermesh-apiserver certs')")]
    private partial void LogAccessControlOff(string cluster);

    [LoggerMessage(2, LogLevel.Information, "etcd access control in place for cluster {Cluster}: auth enabled, users {Users}")]
    private partial void LogAccessControlOn(string cluster, string users);

    [LoggerMessage(3, LogLevel.Warning, "etcd users and roles not yet in place (attempt {Attempt}, next in {DelaySeconds:0.##}s): {Error}")]
    private partial void LogRetrying(int attempt, double delaySeconds, string error);

    [LoggerMessage(4, LogLevel.Critical, "etcd access control could not be set up, not starting: {Error}")]
    private partial void LogFailed(string error);

    [LoggerMessage(5, LogLevel.Information, "removed etcd user {User}: its peer cluster is no longer configured")]
    private partial void LogRemovedStaleUser(string user);

    [LoggerMessage(6, LogLevel.Warning, "revoked etcd role {Extra} from user {User}: it holds only {Role}")]
    private partial void LogRevokedRole(string user, string extra, string role);

    [LoggerMessage(7, LogLevel.Information, "granted etcd role {Role} to user {User}")]
    private partial void LogGrantedRole(string user, string role);

    [LoggerMessage(8, LogLevel.Information, "granted etcd role {Role} read on {Range}")]
    private partial void LogGrantedPermission(string role, string range);

    [LoggerMessage(9, LogLevel.Warning, "revoked {Type} on {Range} from etcd role {Role}: not in its plan")]
    private partial void LogRevokedPermission(string role, string type, string range);
}
