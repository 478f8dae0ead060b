using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>What became of a store request; each failure maps to one Kubernetes Status reason.</summary>
public enum StoreOutcome
{
    Ok,
    Created,
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    BadRequest,

    /// <summary>The requested revision (a continue token or a resourceVersion) was compacted away.</summary>
    Expired,
}

/// <summary>A field-level validation failure (a Status cause).</summary>
public sealed record FieldCause(string Field, string Reason, string Message);

/// <summary>The result of a single-object request: the object as stored (with its resourceVersion) or why not.</summary>
public sealed record StoreResult(StoreOutcome Outcome, JsonObject? Object, string Message, IReadOnlyList<FieldCause> Causes)
{
    public bool Succeeded => Outcome is StoreOutcome.Ok or StoreOutcome.Created;

    public static StoreResult Ok(JsonObject value) => new(StoreOutcome.Ok, value, "", []);

    public static StoreResult Created(JsonObject value) => new(StoreOutcome.Created, value, "", []);

    public static StoreResult Fail(StoreOutcome outcome, string message) => new(outcome, null, message, []);

    public static StoreResult NotFound(ResourceType type, string name)
        => Fail(StoreOutcome.NotFound, $"{type.Resource} \"{name}\" not found");

    public static StoreResult Invalid(ResourceType type, string name, IReadOnlyList<FieldCause> causes)
        => new(StoreOutcome.Invalid, null, $"{type.Kind} \"{name}\" is invalid: {string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}"))}", causes);

    public static StoreResult Conflict(ResourceType type, string name)
        => Fail(StoreOutcome.Conflict, $"Operation cannot be fulfilled on {type.Resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again");
}

/// <summary>One page of a list: the items, the revision they were read at, and the token for the next page.</summary>
public sealed record ListResult(StoreOutcome Outcome, IReadOnlyList<JsonObject> Items, long Revision, string? Continue, string Message)
{
    public bool Succeeded => Outcome == StoreOutcome.Ok;
}

/// <summary>A page of a list as stored bytes (see <see cref="ObjectStore.ListRawAsync"/>).</summary>
public sealed record RawListResult(StoreOutcome Outcome, IReadOnlyList<StoredItem> Items, long Revision, string? Continue, string Message)
{
    public bool Succeeded => Outcome == StoreOutcome.Ok;
}

/// <summary>Options of a list: page size, continue token and a filter (label/field selectors).</summary>
public sealed record ListRequest(int Limit = 0, string? Continue = null, Func<JsonObject, bool>? Filter = null);

public enum StoreWatchEventType
{
    Added,
    Modified,
    Deleted,

    /// <summary>The synthetic ADDED events of a watch from "now" are complete (<see cref="StoreWatchEvent.Revision"/> = the list revision).</summary>
    Synced,

    /// <summary>The start revision was compacted away; the watch ends. Re-list and watch again.</summary>
    Expired,
}

/// <summary>A change seen by a watch. <see cref="Object"/> is null for <c>Synced</c> and <c>Expired</c>.</summary>
public sealed record StoreWatchEvent(StoreWatchEventType Type, JsonObject? Object, long Revision);
