using System.Net;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Client;

/// <summary>The API server refused a request; <see cref="Status"/> is its decoded answer.</summary>
public class KubernetesApiException : Exception
{
    public KubernetesApiException(Status status, Exception? innerException = null)
        : base(FormatMessage(status), innerException)
    {
        Status = status;
    }

    /// <summary>The server's <c>Status</c> (synthesised from the HTTP response when the body was not one).</summary>
    public Status Status { get; }

    /// <summary>The HTTP status code.</summary>
    public HttpStatusCode StatusCode => (HttpStatusCode)(Status.Code ?? 0);

    /// <summary>The machine-readable reason, e.g. <c>NotFound</c>, <c>AlreadyExists</c>, <c>Conflict</c>, <c>Expired</c>.</summary>
    public string? Reason => Status.Reason;

    /// <summary>Maps a status to the most specific exception type.</summary>
    public static KubernetesApiException FromStatus(Status status)
    {
        ArgumentNullException.ThrowIfNull(status);
        return status.Code switch
        {
            404 => new KubernetesNotFoundException(status),
            409 when status.Reason == "AlreadyExists" => new KubernetesAlreadyExistsException(status),
            409 => new KubernetesConflictException(status),
            410 => new KubernetesGoneException(status),
            422 => new KubernetesInvalidException(status),
            _ => new KubernetesApiException(status),
        };
    }

    private static string FormatMessage(Status status)
    {
        var message = string.IsNullOrEmpty(status.Message) ? "(no message)" : status.Message;
        return $"Kubernetes API error {status.Code?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?"} {status.Reason ?? "Unknown"}: {message}";
    }
}

/// <summary>404: the object (or its namespace) does not exist.</summary>
public sealed class KubernetesNotFoundException(Status status) : KubernetesApiException(status);

/// <summary>409: the write conflicts with the current state (stale resourceVersion), or the name already exists (<see cref="KubernetesAlreadyExistsException"/>).</summary>
public class KubernetesConflictException(Status status) : KubernetesApiException(status)
{
    /// <summary>True when the reason is <c>AlreadyExists</c> (a create of an existing name) rather than <c>Conflict</c>.</summary>
    public bool IsAlreadyExists => Reason == "AlreadyExists";
}

/// <summary>409 with reason <c>AlreadyExists</c>: a create of a name that exists.</summary>
public sealed class KubernetesAlreadyExistsException(Status status) : KubernetesConflictException(status);

/// <summary>410: the resource version is too old (compacted); list again and watch from the new one.</summary>
public sealed class KubernetesGoneException(Status status) : KubernetesApiException(status);

/// <summary>422: the object failed validation; <see cref="StatusDetails.Causes"/> names the fields.</summary>
public sealed class KubernetesInvalidException(Status status) : KubernetesApiException(status);
