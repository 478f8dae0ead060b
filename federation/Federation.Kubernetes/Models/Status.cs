using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>The API server's answer to a failed (or some successful) calls: kind <c>Status</c>.</summary>
public sealed record Status : JsonModel
{
    public string? ApiVersion { get; init; } = "v1";

    public string? Kind { get; init; } = "Status";

    public ListMeta? Metadata { get; init; }

    /// <summary><c>Success</c> or <c>Failure</c>.</summary>
    [JsonPropertyName("status")]
    public string? Outcome { get; init; }

    public string? Message { get; init; }

    /// <summary>A machine-readable reason such as <c>NotFound</c>, <c>AlreadyExists</c>, <c>Conflict</c>, <c>Expired</c>.</summary>
    public string? Reason { get; init; }

    public StatusDetails? Details { get; init; }

    /// <summary>The HTTP status code this status stands for.</summary>
    public int? Code { get; init; }
}

/// <summary>Which object a <see cref="Status"/> is about, and why in detail.</summary>
public sealed record StatusDetails : JsonModel
{
    public string? Name { get; init; }

    public string? Group { get; init; }

    public string? Kind { get; init; }

    [JsonPropertyName("uid")]
    public string? Uid { get; init; }

    public IReadOnlyList<StatusCause>? Causes { get; init; }

    public int? RetryAfterSeconds { get; init; }
}

/// <summary>One reason a request failed, e.g. one invalid field.</summary>
public sealed record StatusCause : JsonModel
{
    public string? Reason { get; init; }

    public string? Message { get; init; }

    public string? Field { get; init; }
}
