using Federation.Etcd.Leases;
using Federation.Etcd.Protocol;
using Federation.Etcd.Transport;
using Federation.Etcd.Watch;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Etcd;

/// <summary>An etcd v3 client speaking gRPC over HTTP/2 (TLS with client certificates, or h2c).</summary>
public sealed class EtcdClient : IEtcdClient
{
    private readonly SemaphoreSlim _authLock = new(1, 1);
    private readonly WatchManager _watches;
    private readonly LeaseKeepAliveManager _leases;

    private EtcdClient(EtcdClientOptions options, TimeProvider timeProvider, ILoggerFactory loggerFactory)
    {
        Options = options;
        TimeProvider = timeProvider;
        Channel = new GrpcChannel(options);
        _watches = new WatchManager(this, loggerFactory.CreateLogger("Federation.Etcd.Watch"));
        _leases = new LeaseKeepAliveManager(this, loggerFactory.CreateLogger("Federation.Etcd.Leases"));
    }

    /// <summary>Creates a client. No connection is made until the first call.</summary>
    public static EtcdClient Create(EtcdClientOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new EtcdClient(options, timeProvider ?? TimeProvider.System, loggerFactory ?? NullLoggerFactory.Instance);
    }

    internal EtcdClientOptions Options { get; }

    internal TimeProvider TimeProvider { get; }

    internal GrpcChannel Channel { get; }

    internal int WatchStreamsOpened => _watches.StreamsOpened;

    public IReadOnlyList<Uri> Endpoints => Channel.Endpoints;

    public Task<RangeResponse> RangeAsync(RangeRequest request, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.KV/Range", request, RangeResponse.Parser, cancellationToken);

    public Task<PutResponse> PutAsync(PutRequest request, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.KV/Put", request, PutResponse.Parser, cancellationToken);

    public Task<DeleteRangeResponse> DeleteRangeAsync(DeleteRangeRequest request, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.KV/DeleteRange", request, DeleteRangeResponse.Parser, cancellationToken);

    public Task<TxnResponse> TxnAsync(TxnRequest request, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.KV/Txn", request, TxnResponse.Parser, cancellationToken);

    public Task<CompactionResponse> CompactAsync(long revision, bool physical = false, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.KV/Compact", new CompactionRequest { Revision = revision, Physical = physical }, CompactionResponse.Parser, cancellationToken);

    public async Task<LeaseGrantResponse> LeaseGrantAsync(long ttlSeconds, long leaseId = 0, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("/etcdserverpb.Lease/LeaseGrant", new LeaseGrantRequest { TTL = ttlSeconds, ID = leaseId }, LeaseGrantResponse.Parser, cancellationToken).ConfigureAwait(false);
        if (!string.IsNullOrEmpty(response.Error))
        {
            throw new EtcdException(GrpcStatusCode.FailedPrecondition, response.Error);
        }

        return response;
    }

    public async Task LeaseRevokeAsync(long leaseId, CancellationToken cancellationToken = default)
    {
        try
        {
            await CallAsync("/etcdserverpb.Lease/LeaseRevoke", new LeaseRevokeRequest { ID = leaseId }, LeaseRevokeResponse.Parser, cancellationToken).ConfigureAwait(false);
        }
        catch (LeaseNotFoundException ex)
        {
            throw new LeaseNotFoundException(leaseId, ex.Detail);
        }
    }

    public Task<LeaseTimeToLiveResponse> LeaseTimeToLiveAsync(long leaseId, bool keys = false, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Lease/LeaseTimeToLive", new LeaseTimeToLiveRequest { ID = leaseId, Keys = keys }, LeaseTimeToLiveResponse.Parser, cancellationToken);

    public LeaseKeepAlive KeepAlive(long leaseId, long ttlSeconds) => _leases.Add(leaseId, ttlSeconds);

    public IAsyncEnumerable<WatchResponse> WatchAsync(WatchCreateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return _watches.WatchAsync(request, cancellationToken);
    }

    public bool RequestWatchProgress() => _watches.RequestProgress();

    public Task<StatusResponse> StatusAsync(CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Maintenance/Status", new StatusRequest(), StatusResponse.Parser, cancellationToken);

    public Task<MemberListResponse> MemberListAsync(CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Cluster/MemberList", new MemberListRequest(), MemberListResponse.Parser, cancellationToken);

    public async Task<string> AuthenticateAsync(string user, string password, CancellationToken cancellationToken = default)
    {
        var response = await Channel.UnaryAsync(
            "/etcdserverpb.Auth/Authenticate", new AuthenticateRequest { Name = user, Password = password }, AuthenticateResponse.Parser, timeout: null, cancellationToken).ConfigureAwait(false);
        Channel.Token = response.Token;
        return response.Token;
    }

    public Task AuthEnableAsync(CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/AuthEnable", new AuthEnableRequest(), AuthEnableResponse.Parser, cancellationToken);

    public Task AuthDisableAsync(CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/AuthDisable", new AuthDisableRequest(), AuthDisableResponse.Parser, cancellationToken);

    public Task UserAddAsync(string name, string? password, CancellationToken cancellationToken = default)
    {
        var request = new AuthUserAddRequest { Name = name };
        if (password is null)
        {
            request.Options = new UserAddOptions { NoPassword = true };
        }
        else
        {
            request.Password = password;
        }

        return CallAsync("/etcdserverpb.Auth/UserAdd", request, AuthUserAddResponse.Parser, cancellationToken);
    }

    public async Task<IReadOnlyList<string>> UserGetRolesAsync(string name, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("/etcdserverpb.Auth/UserGet", new AuthUserGetRequest { Name = name }, AuthUserGetResponse.Parser, cancellationToken).ConfigureAwait(false);
        return [.. response.Roles];
    }

    public Task UserGrantRoleAsync(string user, string role, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/UserGrantRole", new AuthUserGrantRoleRequest { User = user, Role = role }, AuthUserGrantRoleResponse.Parser, cancellationToken);

    public Task UserRevokeRoleAsync(string user, string role, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/UserRevokeRole", new AuthUserRevokeRoleRequest { Name = user, Role = role }, AuthUserRevokeRoleResponse.Parser, cancellationToken);

    public Task UserDeleteAsync(string name, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/UserDelete", new AuthUserDeleteRequest { Name = name }, AuthUserDeleteResponse.Parser, cancellationToken);

    public async Task<IReadOnlyList<string>> UserListAsync(CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("/etcdserverpb.Auth/UserList", new AuthUserListRequest(), AuthUserListResponse.Parser, cancellationToken).ConfigureAwait(false);
        return [.. response.Users];
    }

    public Task RoleDeleteAsync(string name, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/RoleDelete", new AuthRoleDeleteRequest { Role = name }, AuthRoleDeleteResponse.Parser, cancellationToken);

    public Task RoleAddAsync(string name, CancellationToken cancellationToken = default)
        => CallAsync("/etcdserverpb.Auth/RoleAdd", new AuthRoleAddRequest { Name = name }, AuthRoleAddResponse.Parser, cancellationToken);

    public async Task<IReadOnlyList<Permission>> RoleGetAsync(string role, CancellationToken cancellationToken = default)
    {
        var response = await CallAsync("/etcdserverpb.Auth/RoleGet", new AuthRoleGetRequest { Role = role }, AuthRoleGetResponse.Parser, cancellationToken).ConfigureAwait(false);
        return [.. response.Perm];
    }

    public Task RoleRevokePermissionAsync(string role, ByteString key, ByteString rangeEnd, CancellationToken cancellationToken = default)
    {
        var request = new AuthRoleRevokePermissionRequest { Role = role, Key = key, RangeEnd = rangeEnd };
        return CallAsync("/etcdserverpb.Auth/RoleRevokePermission", request, AuthRoleRevokePermissionResponse.Parser, cancellationToken);
    }

    public Task RoleGrantKeyPermissionAsync(string role, string key, Permission.Types.Type permission, CancellationToken cancellationToken = default)
    {
        // An empty range end is a single key.
        var request = new AuthRoleGrantPermissionRequest { Name = role, Perm = new Permission { PermType = permission, Key = ByteString.CopyFromUtf8(key) } };
        return CallAsync("/etcdserverpb.Auth/RoleGrantPermission", request, AuthRoleGrantPermissionResponse.Parser, cancellationToken);
    }

    public Task RoleGrantPrefixPermissionAsync(string role, string prefix, Permission.Types.Type permission, CancellationToken cancellationToken = default)
    {
        var key = ByteString.CopyFromUtf8(prefix);
        var request = new AuthRoleGrantPermissionRequest
        {
            Name = role,
            Perm = new Permission { PermType = permission, Key = key, RangeEnd = KeyRange.PrefixEnd(key) },
        };
        return CallAsync("/etcdserverpb.Auth/RoleGrantPermission", request, AuthRoleGrantPermissionResponse.Parser, cancellationToken);
    }

    /// <summary>Authenticates (when configured with a password) before the first call and again when the token expires.</summary>
    private async Task<TResponse> CallAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser, CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        if (Options.Username is not null && Channel.Token is null)
        {
            await TryReauthenticateAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            return await Channel.UnaryAsync(method, request, parser, timeout: null, cancellationToken).ConfigureAwait(false);
        }
        catch (EtcdUnauthenticatedException) when (Options.Username is not null)
        {
            await TryReauthenticateAsync(cancellationToken).ConfigureAwait(false);
            return await Channel.UnaryAsync(method, request, parser, timeout: null, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Gets a fresh token when a user/password is configured; a no-op otherwise.</summary>
    internal async Task TryReauthenticateAsync(CancellationToken cancellationToken)
    {
        if (Options.Username is not { } user || Options.Password is not { } password)
        {
            return;
        }

        await _authLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Channel.Token = null;
            await AuthenticateAsync(user, password, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _authLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _watches.DisposeAsync().ConfigureAwait(false);
        await _leases.DisposeAsync().ConfigureAwait(false);
        Channel.Dispose();
        _authLock.Dispose();
    }
}
