namespace Federation.Kubernetes.Models;

/// <summary>The type of a watch event.</summary>
public enum WatchEventType
{
    Added,
    Modified,
    Deleted,
    /// <summary>No change; the object carries only a resource version to resume from.</summary>
    Bookmark,
    /// <summary>The watch failed; <see cref="WatchEvent{T}.Status"/> says why (410 when the resource version is too old).</summary>
    Error,
}

/// <summary>One event of a watch stream.</summary>
public sealed record WatchEvent<T>(WatchEventType Type, T? Object, Status? Status = null)
    where T : class
{
    /// <summary>
    /// Set (and <see cref="Object"/> null) when the event's object does not decode and the watch was asked for with
    /// <see cref="Client.WatchOptions.SkipUndecodable"/>.
    /// </summary>
    public UndecodableObject? Undecodable { get; init; }

    /// <summary>The wire name of an event type (<c>ADDED</c>, …).</summary>
    public static string TypeName(WatchEventType type) => type switch
    {
        WatchEventType.Added => "ADDED",
        WatchEventType.Modified => "MODIFIED",
        WatchEventType.Deleted => "DELETED",
        WatchEventType.Bookmark => "BOOKMARK",
        WatchEventType.Error => "ERROR",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };
}
