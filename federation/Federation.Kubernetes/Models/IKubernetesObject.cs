using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>An object of the Kubernetes API: type information and metadata.</summary>
public interface IKubernetesObject
{
    string? ApiVersion { get; }

    string? Kind { get; }

    ObjectMeta Metadata { get; }
}

/// <summary>A kind the client can address: the type carries its API identity and its JSON contracts.</summary>
public interface IKubernetesObject<TSelf> : IKubernetesObject
    where TSelf : class, IKubernetesObject<TSelf>
{
    /// <summary>Group, version, kind, plural and scope of this kind.</summary>
    static abstract ApiResource Resource { get; }

    /// <summary>The source-generated JSON contract of this kind.</summary>
    static abstract JsonTypeInfo<TSelf> JsonTypeInfo { get; }

    /// <summary>The source-generated JSON contract of the list of this kind.</summary>
    static abstract JsonTypeInfo<KubernetesList<TSelf>> ListJsonTypeInfo { get; }
}
