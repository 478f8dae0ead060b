namespace Federation.Etcd;

/// <summary>gRPC status codes (the subset etcd returns), as numbered by the gRPC protocol.</summary>
public enum GrpcStatusCode
{
    Ok = 0,
    Cancelled = 1,
    Unknown = 2,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    OutOfRange = 11,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    DataLoss = 15,
    Unauthenticated = 16,
}

/// <summary>An error returned by etcd (a non-OK gRPC status) or by the transport to it.</summary>
public class EtcdException : Exception
{
    public EtcdException(GrpcStatusCode status, string detail, Exception? innerException = null)
        : base(FormatMessage(status, detail), innerException)
    {
        Status = status;
        Detail = detail;
    }

    /// <summary>The gRPC status code.</summary>
    public GrpcStatusCode Status { get; }

    /// <summary>The server's message (grpc-message), e.g. "etcdserver: permission denied".</summary>
    public string Detail { get; }

    private static string FormatMessage(GrpcStatusCode status, string detail)
        => string.IsNullOrEmpty(detail) ? $"etcd call failed: {status}" : $"etcd call failed: {status}: {detail}";

    /// <summary>Maps a gRPC status to the most specific exception type.</summary>
    public static EtcdException FromStatus(GrpcStatusCode status, string detail, Exception? inner = null)
    {
        return status switch
        {
            GrpcStatusCode.Unavailable => new EtcdUnavailableException(detail, inner),
            GrpcStatusCode.PermissionDenied => new EtcdPermissionDeniedException(detail),
            GrpcStatusCode.Unauthenticated => new EtcdUnauthenticatedException(detail),
            GrpcStatusCode.DeadlineExceeded => new EtcdDeadlineExceededException(detail, inner),
            GrpcStatusCode.OutOfRange when detail.Contains("compacted", StringComparison.Ordinal) => new RevisionCompactedException(0, detail),
            GrpcStatusCode.OutOfRange when detail.Contains("future revision", StringComparison.Ordinal) => new EtcdFutureRevisionException(detail),
            GrpcStatusCode.NotFound when detail.Contains("lease not found", StringComparison.Ordinal) => new LeaseNotFoundException(0, detail),
            // A member that lost its leader says so; another member may serve the call.
            GrpcStatusCode.FailedPrecondition when detail.Contains("not leader", StringComparison.Ordinal) => new EtcdUnavailableException(detail, inner),
            _ => new EtcdException(status, detail, inner),
        };
    }
}

/// <summary>No etcd endpoint could serve the call (connection refused, reset, no leader, shutting down).</summary>
public sealed class EtcdUnavailableException(string detail, Exception? innerException = null)
    : EtcdException(GrpcStatusCode.Unavailable, detail, innerException);

/// <summary>The authenticated user may not do this (e.g. a write by a read-only user).</summary>
public sealed class EtcdPermissionDeniedException(string detail)
    : EtcdException(GrpcStatusCode.PermissionDenied, detail);

/// <summary>Missing, wrong or expired credentials.</summary>
public sealed class EtcdUnauthenticatedException(string detail)
    : EtcdException(GrpcStatusCode.Unauthenticated, detail);

/// <summary>The call did not finish before its deadline.</summary>
public sealed class EtcdDeadlineExceededException(string detail, Exception? innerException = null)
    : EtcdException(GrpcStatusCode.DeadlineExceeded, detail, innerException);

/// <summary>The requested revision is newer than the store's.</summary>
public sealed class EtcdFutureRevisionException(string detail)
    : EtcdException(GrpcStatusCode.OutOfRange, detail);

/// <summary>The requested revision has been compacted away; re-list and watch from the new revision.</summary>
public sealed class RevisionCompactedException(long compactRevision, string detail)
    : EtcdException(GrpcStatusCode.OutOfRange, detail)
{
    /// <summary>The oldest revision still available (0 when the server did not say).</summary>
    public long CompactRevision { get; } = compactRevision;
}

/// <summary>The lease does not exist (expired or revoked).</summary>
public sealed class LeaseNotFoundException(long leaseId, string detail)
    : EtcdException(GrpcStatusCode.NotFound, detail)
{
    public long LeaseId { get; } = leaseId;
}
