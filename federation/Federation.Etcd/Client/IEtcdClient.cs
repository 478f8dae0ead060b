using Google.Protobuf;
using Federation.Etcd.Protocol;

namespace Federation.Etcd;

/// <summary>
/// The etcd v3 API as the system uses it. Requests and responses are etcd's own messages; convenience
/// overloads live in <see cref="EtcdClientExtensions"/>. Failures surface as <see cref="EtcdException"/>s.
/// </summary>
public interface IEtcdClient : IAsyncDisposable
{
    /// <summary>The endpoints this client was given.</summary>
    IReadOnlyList<Uri> Endpoints { get; }

    Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default);

    Task<PutResponse> PutAsync(PutRequest request, CancellationToken cancellationToken = default);

    Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, CancellationToken cancellationToken = default);

    Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default);

    Task<CompactionResponse> CompactAsync(long revision, bool physical = false, CancellationToken cancellationToken = default);

    Task<LeaseGrantResponse> LeaseGrantAsync(long ttlSeconds, long leaseId = 0, CancellationToken cancellationToken = default);

    Task LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken = default);

    Task<LeaseTimeToLiveResponse> LeaseTimeToLiveAsync(long leaseId, bool keys = false, CancellationToken cancellationToken = default);

    /// <summary>Keeps a granted lease alive until the returned handle is disposed or the lease is lost.</summary>
    LeaseKeepAlive KeepAlive(long leaseId, long ttlSeconds);

    /// <summary>
    /// Watches a key or range on the client's shared watch stream. Survives broken streams and endpoint
    /// changes (resuming after the last delivered revision); ends with <see cref="RevisionCompactedException"/>
    /// when the revision to resume from was compacted, or with the server's reason when it cancels the watch.
    /// </summary>
    IAsyncEnumerable<WatchResponse> WatchAsync(WatchCreateRequest request, CancellationToken cancellationToken = default);

    /// <summary>Asks for a progress notification on every watch (a response with no events and the current revision).</summary>
    bool RequestWatchProgress();

    Task<StatusResponse> StatusAsync(CancellationToken cancellationToken = default);

    Task<MemberListResponse> MemberListAsync(CancellationToken cancellationToken = default);

    /// <summary>Authenticates with user and password; later calls carry the token.</summary>
    Task<string> AuthenticateAsync(string user, string password, CancellationToken cancellationToken = default);

    Task AuthEnableAsync(CancellationToken cancellationToken = default);

    Task AuthDisableAsync(CancellationToken cancellationToken = default);

    /// <summary>Adds a user; a null password creates a user that can only authenticate by client certificate.</summary>
    Task UserAddAsync(string name, string? password, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<string>> UserGetRolesAsync(string name, CancellationToken cancellationToken = default);

    Task UserGrantRoleAsync(string user, string role, CancellationToken cancellationToken = default);

    /// <summary>Takes <paramref name="role"/> away from <paramref name="user"/>; the user and its other roles stay.</summary>
    Task UserRevokeRoleAsync(string user, string role, CancellationToken cancellationToken = default);

    /// <summary>Removes a user (and its role grants).</summary>
    Task UserDeleteAsync(string name, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<string>> UserListAsync(CancellationToken cancellationToken = default);

    Task RoleAddAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Removes a role (and its grants to users).</summary>
    Task RoleDeleteAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>The permissions a role holds (key, range end and type of each).</summary>
    Task<IReadOnlyList<Permission>> RoleGetAsync(string role, CancellationToken cancellationToken = default);

    /// <summary>
    /// Revokes the permission of <paramref name="role"/> on exactly the range [<paramref name="key"/>, <paramref name="rangeEnd"/>)
    /// (an empty range end is the single key), as <see cref="RoleGetAsync"/> reports it; etcd matches the range exactly.
    /// </summary>
    Task RoleRevokePermissionAsync(string role, ByteString key, ByteString rangeEnd, CancellationToken cancellationToken = default);

    /// <summary>Grants a role access to exactly one key (no other key starting with it).</summary>
    Task RoleGrantKeyPermissionAsync(string role, string key, Permission.Types.Type permission, CancellationToken cancellationToken = default);

    /// <summary>Grants a role access to every key starting with <paramref name="prefix"/>.</summary>
    Task RoleGrantPrefixPermissionAsync(string role, string prefix, Permission.Types.Type permission, CancellationToken cancellationToken = default);
}
