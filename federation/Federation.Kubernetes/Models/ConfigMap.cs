using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A ConfigMap.</summary>
public sealed record ConfigMap : JsonModel, IKubernetesObject<ConfigMap>
{
    public static ApiResource Resource { get; } = new("", "v1", "ConfigMap", "configmaps", true);

    public static JsonTypeInfo<ConfigMap> JsonTypeInfo => KubernetesJsonContext.Default.ConfigMap;

    public static JsonTypeInfo<KubernetesList<ConfigMap>> ListJsonTypeInfo => KubernetesJsonContext.Default.ConfigMapList;

    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "ConfigMap";

    public ObjectMeta Metadata { get; init; } = new();

    public IReadOnlyDictionary<string, string>? Data { get; init; }

    /// <summary>Binary values; base64 on the wire.</summary>
    public IReadOnlyDictionary<string, byte[]>? BinaryData { get; init; }

    public bool? Immutable { get; init; }
}
