namespace Federation.Kubernetes.Config;

/// <summary>A kubeconfig or in-cluster configuration that cannot be used; the message names the file, the context and what is missing.</summary>
public sealed class KubeconfigException(string message, Exception? innerException = null)
    : Exception(message, innerException);
