namespace Federation.Kubernetes.Informers;

/// <summary>Settings of one <see cref="Informer{T}"/>.</summary>
public sealed class InformerOptions
{
    /// <summary>A name for logs and status, e.g. "cluster1/services".</summary>
    public string Name { get; set; } = "informer";

    /// <summary>The namespace to watch; null for all namespaces (and for cluster-scoped kinds).</summary>
    public string? Namespace { get; set; }

    public string? LabelSelector { get; set; }

    public string? FieldSelector { get; set; }

    /// <summary>Objects per list page.</summary>
    public int PageSize { get; set; } = 500;

    /// <summary>How long the server keeps one watch open (randomised up to twice this, so many informers do not reconnect together).</summary>
    public TimeSpan WatchTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>First delay after an error (doubles up to <see cref="RetryMaxDelay"/>, reset after a success).</summary>
    public TimeSpan RetryMinDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>Receives an informer's changes, one at a time, in order, from the informer's loop.</summary>
public interface IInformerObserver<in T>
{
    void OnAdd(T item);

    void OnUpdate(T oldItem, T newItem);

    /// <summary>The object is gone; <paramref name="lastKnown"/> is its last state the informer saw.</summary>
    void OnDelete(T lastKnown);
}

/// <summary>A snapshot of an informer's state.</summary>
/// <param name="Name">The informer's name.</param>
/// <param name="Synced">Whether the first complete list has been applied.</param>
/// <param name="Items">Objects in the cache.</param>
/// <param name="ResourceVersion">The point a watch would resume from.</param>
/// <param name="Relists">Complete lists after the first one (after 410 Gone).</param>
/// <param name="LastError">The last error seen, if any.</param>
public sealed record InformerStatus(string Name, bool Synced, int Items, string? ResourceVersion, long Relists, string? LastError);
