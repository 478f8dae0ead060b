using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Client;

/// <summary>
/// The few Kubernetes API calls the system makes. Kept narrow so that moving to the official client later is a
/// change behind this interface. Failures are <see cref="KubernetesApiException"/>s (NotFound, Conflict, Gone, Invalid, …).
/// </summary>
public interface IKubernetesClient
{
    /// <summary>Reads one object. <paramref name="namespace"/> is required for namespaced kinds and ignored otherwise.</summary>
    Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;

    /// <summary>Lists one page. A null <paramref name="namespace"/> lists across all namespaces.</summary>
    Task<KubernetesList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;

    /// <summary>Creates the object in the namespace its metadata names. An existing name fails with <see cref="KubernetesAlreadyExistsException"/>.</summary>
    Task<T> CreateAsync<T>(T item, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;

    /// <summary>Replaces the object. A stale <c>metadata.resourceVersion</c> fails with <see cref="KubernetesConflictException"/>.</summary>
    Task<T> UpdateAsync<T>(T item, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;

    /// <summary>Deletes one object.</summary>
    Task DeleteAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;

    /// <summary>Patches one object with a JSON merge, strategic-merge or JSON (RFC 6902) patch document.</summary>
    Task<T> PatchAsync<T>(string? @namespace, string name, PatchType patchType, string patch, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;

    /// <summary>
    /// Watches changes until the server ends the stream (normal end of the enumeration) or the token is cancelled.
    /// An expired resource version fails with <see cref="KubernetesGoneException"/>, also when it arrives as an ERROR event.
    /// </summary>
    IAsyncEnumerable<WatchEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>;
}

/// <summary>Options of a list call.</summary>
public sealed record ListOptions
{
    /// <summary>E.g. <c>app=web,tier in (a,b)</c>.</summary>
    public string? LabelSelector { get; init; }

    /// <summary>E.g. <c>metadata.name=x</c>, <c>spec.nodeName=n1</c>.</summary>
    public string? FieldSelector { get; init; }

    /// <summary>Page size; the server returns a continue token when more remain.</summary>
    public int? Limit { get; init; }

    /// <summary>The continue token of the previous page.</summary>
    public string? Continue { get; init; }

    /// <summary>The resource version to list at (<c>0</c>: any, from cache).</summary>
    public string? ResourceVersion { get; init; }

    /// <summary>
    /// Client side, not sent: decode each item on its own and report the ones that do not decode in
    /// <see cref="KubernetesList{T}.Undecodable"/> instead of failing the whole page.
    /// </summary>
    public bool SkipUndecodable { get; init; }
}

/// <summary>Options of a watch call.</summary>
public sealed record WatchOptions
{
    /// <summary>Watch changes after this resource version (normally the list's).</summary>
    public string? ResourceVersion { get; init; }

    /// <summary>Ask for BOOKMARK events, which advance the resume point without a change.</summary>
    public bool AllowBookmarks { get; init; }

    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    /// <summary>The server ends the watch after this many seconds (the client gives up a little later if it does not).</summary>
    public int? TimeoutSeconds { get; init; }

    /// <summary>
    /// Client side, not sent: an event whose object does not decode is returned with <see cref="WatchEvent{T}.Undecodable"/>
    /// set instead of failing the watch. A line that is not a JSON watch event at all still fails it.
    /// </summary>
    public bool SkipUndecodable { get; init; }
}

/// <summary>The patch formats the API server accepts.</summary>
public enum PatchType
{
    /// <summary>RFC 7386 JSON merge patch (<c>application/merge-patch+json</c>).</summary>
    Merge,

    /// <summary>Kubernetes strategic merge patch (<c>application/strategic-merge-patch+json</c>).</summary>
    StrategicMerge,

    /// <summary>RFC 6902 JSON patch (<c>application/json-patch+json</c>).</summary>
    Json,
}
