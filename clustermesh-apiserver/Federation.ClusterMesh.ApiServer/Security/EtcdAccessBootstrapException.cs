namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>The etcd users and roles could not be put in place; the message names the user or role and etcd's reason.</summary>
public sealed class EtcdAccessBootstrapException(string message, Exception? innerException = null)
    : Exception(message, innerException);
