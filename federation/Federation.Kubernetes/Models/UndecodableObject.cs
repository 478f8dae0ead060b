namespace Federation.Kubernetes.Models;

/// <summary>Why an object of a list or watch could not be used.</summary>
public enum UndecodableReason
{
    /// <summary>The item is not a JSON object (e.g. <c>null</c> in <c>items</c>).</summary>
    NotAnObject,

    /// <summary>The JSON does not fit the kind's model (a field of the wrong type, a bad value).</summary>
    Malformed,

    /// <summary>The object decoded but has no <c>metadata.name</c>, so it has no key.</summary>
    MissingName,
}

/// <summary>
/// An object of a list page or watch event that was left out because it does not decode, with what could still be read
/// of its metadata (each field null when absent or not a string).
/// </summary>
public sealed record UndecodableObject(string? Namespace, string? Name, string? Uid, string? ResourceVersion, UndecodableReason Reason, string Error)
{
    /// <summary>The metric tag of a reason: <c>not_an_object</c>, <c>malformed</c>, <c>missing_name</c>.</summary>
    public static string ReasonTag(UndecodableReason reason) => reason switch
    {
        UndecodableReason.NotAnObject => "not_an_object",
        UndecodableReason.Malformed => "malformed",
        UndecodableReason.MissingName => "missing_name",
        _ => throw new ArgumentOutOfRangeException(nameof(reason), reason, null),
    };
}
