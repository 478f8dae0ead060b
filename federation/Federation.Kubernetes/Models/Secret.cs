using System.Text.Json.Serialization.Metadata;

namespace Federation.Kubernetes.Models;

/// <summary>A Secret.</summary>
public sealed record Secret : JsonModel, IKubernetesObject<Secret>
{
    public static ApiResource Resource { get; } = new("", "v1", "Secret", "secrets", true);

    public static JsonTypeInfo<Secret> JsonTypeInfo => KubernetesJsonContext.Default.Secret;

    public static JsonTypeInfo<KubernetesList<Secret>> ListJsonTypeInfo => KubernetesJsonContext.Default.SecretList;

    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "Secret";

    public ObjectMeta Metadata { get; init; } = new();

    /// <summary>E.g. <c>Opaque</c>, <c>kubernetes.io/tls</c>.</summary>
    public string? Type { get; init; }

    /// <summary>The values; base64 on the wire.</summary>
    public IReadOnlyDictionary<string, byte[]>? Data { get; init; }

    /// <summary>Write-only plain-text values, merged into <see cref="Data"/> by the server.</summary>
    public IReadOnlyDictionary<string, string>? StringData { get; init; }

    public bool? Immutable { get; init; }
}
