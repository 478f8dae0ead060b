using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>A list of objects of one kind (<c>ServiceList</c>, <c>PodList</c>, …) with the list's metadata.</summary>
public sealed record KubernetesList<T> : JsonModel
    where T : class, IKubernetesObject<T>
{
    public string? ApiVersion { get; init; } = T.Resource.ApiVersion;

    public string? Kind { get; init; } = T.Resource.ListKind;

    public ListMeta Metadata { get; init; } = new();

    public IReadOnlyList<T> Items { get; init; } = [];

    /// <summary>Items left out of <see cref="Items"/> because they do not decode; only filled when the list was asked for with <see cref="Client.ListOptions.SkipUndecodable"/>.</summary>
    [JsonIgnore]
    public IReadOnlyList<UndecodableObject> Undecodable { get; init; } = [];
}
