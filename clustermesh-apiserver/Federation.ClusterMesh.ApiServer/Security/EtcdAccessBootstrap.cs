using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Federation.ClusterMesh.ApiServer.Hosting;
using Federation.Etcd;
using Federation.Etcd.Protocol;
using Polly;
using Polly.Retry;
using Polly.Timeout;

namespace Federation.ClusterMesh.ApiServer.Security;

/// <summary>
/// Makes sure, before anything is exported, that the etcd users and roles of <see cref="EtcdAccessPlan"/>
/// exist with exactly the plan's permissions and roles (anything extra is revoked), that users of peers no longer
/// configured are gone, and that etcd auth is enabled. Runs only when
/// the apiserver reaches etcd with a client certificate (mTLS): without one, etcd cannot tell users apart.
/// </summary>
/// <remarks>
/// Startup behaviour: <see cref="StartAsync"/> completes only when everything is in place, so the host
/// (which starts hosted services in order) never starts an exporter without access control. An unreachable
/// etcd is retried with jittered exponential backoff up to <see cref="EtcdAccessBootstrapOptions.RetryDeadline"/>;
/// any other etcd error (e.g. permission denied: the certificate is not an admin's) fails at once. A failure
/// throws <see cref="EtcdAccessBootstrapException"/> out of the host's start, so the process exits non-zero.
/// </remarks>
internal sealed partial class EtcdAccessBootstrap : IHostedService
{
    private readonly IEtcdClient _etcd;
    private readonly ApiServerOptions _options;
    private readonly EtcdAccessBootstrapOptions _retry;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<EtcdAccessBootstrap> _logger;

    public EtcdAccessBootstrap(
        IEtcdClient etcd, ApiServerOptions options, EtcdAccessBootstrapOptions retry, TimeProvider timeProvider, ILogger<EtcdAccessBootstrap> logger)
    {
        _etcd = etcd;
        _options = options;
        _retry = retry;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (_options.EtcdCertFile is null)
        {
            LogAccessControlOff(_options.ClusterName);
            return;
        }

        CheckOwnCertificate(_options.EtcdCertFile);
        var plan = EtcdAccessPlan.For(_options.ClusterName, _options.PeerClusters);
        string? lastError = null;
        var pipeline = new ResiliencePipelineBuilder { TimeProvider = _timeProvider }
            .AddTimeout(new TimeoutStrategyOptions { Timeout = _retry.RetryDeadline })
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<EtcdAccessBootstrapException>(IsTransient),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = _retry.FirstRetryDelay,
                MaxDelay = _retry.MaxRetryDelay,
                MaxRetryAttempts = int.MaxValue,
                OnRetry = args =>
                {
                    lastError = args.Outcome.Exception?.Message;
                    LogRetrying(args.AttemptNumber + 1, args.RetryDelay.TotalSeconds, lastError ?? "");
                    return default;
                },
            })
            .Build();

        try
        {
            await pipeline.ExecuteAsync(async token => await EnsureAsync(plan, token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutRejectedException ex)
        {
            var message = $"etcd users and roles of cluster {_options.ClusterName} not in place after {_retry.RetryDeadline.TotalSeconds:0.#}s of retries; last error: {lastError ?? "none"}";
            LogFailed(message);
            throw new EtcdAccessBootstrapException(message, ex);
        }
        catch (EtcdAccessBootstrapException ex)
        {
            LogFailed(ex.Message);
            throw;
        }

        LogAccessControlOn(_options.ClusterName, string.Join(", ", plan.Users.Select(u => $"{u.Name}={u.Role}")));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Applies <paramref name="plan"/> once; idempotent, safe to run concurrently from several replicas.</summary>
    public async Task EnsureAsync(EtcdAccessPlan plan, CancellationToken cancellationToken)
    {
        await StepAsync($"adding etcd role '{EtcdAccessPlan.RootRole}'", () => IgnoreExistingAsync(_etcd.RoleAddAsync(EtcdAccessPlan.RootRole, cancellationToken))).ConfigureAwait(false);
        foreach (var role in plan.Roles)
        {
            await EnsureRoleAsync(role, cancellationToken).ConfigureAwait(false);
        }

        foreach (var user in plan.Users)
        {
            await EnsureUserAsync(user, cancellationToken).ConfigureAwait(false);
        }

        var users = await StepAsync("listing etcd users", () => _etcd.UserListAsync(cancellationToken)).ConfigureAwait(false);
        foreach (var stale in users.Where(plan.IsStale))
        {
            await StepAsync($"removing etcd user '{stale}' (its peer is no longer in --peer-clusters)", () => IgnoreMissingAsync(_etcd.UserDeleteAsync(stale, cancellationToken))).ConfigureAwait(false);
            LogRemovedStaleUser(stale);
        }

        // A no-op when auth is already on.
        await StepAsync("enabling etcd auth", () => _etcd.AuthEnableAsync(cancellationToken)).ConfigureAwait(false);
    }

    /// <summary>
    /// Gives <paramref name="role"/> exactly the plan's read permissions: missing ones are granted first, then any other
    /// permission (added by hand, or by an older version) is revoked, so a reader never loses a range it keeps.
    /// </summary>
    private async Task EnsureRoleAsync(EtcdRole role, CancellationToken cancellationToken)
    {
        await StepAsync($"adding etcd role '{role.Name}'", () => IgnoreExistingAsync(_etcd.RoleAddAsync(role.Name, cancellationToken))).ConfigureAwait(false);
        var held = await StepAsync($"reading the permissions of etcd role '{role.Name}'", () => _etcd.RoleGetAsync(role.Name, cancellationToken)).ConfigureAwait(false);
        var grants = role.Grants.ToList();
        foreach (var grant in grants)
        {
            if (held.Any(p => grant.SameRange(p) && p.PermType == Permission.Types.Type.Read))
            {
                continue;
            }

            // Granting a range the role already holds with another type replaces that type.
            await StepAsync(
                $"granting etcd role '{role.Name}' read on {grant}",
                () => grant.IsPrefix
                    ? _etcd.RoleGrantPrefixPermissionAsync(role.Name, grant.Key, Permission.Types.Type.Read, cancellationToken)
                    : _etcd.RoleGrantKeyPermissionAsync(role.Name, grant.Key, Permission.Types.Type.Read, cancellationToken)).ConfigureAwait(false);
            LogGrantedPermission(role.Name, grant.ToString());
        }

        foreach (var extra in held.Where(p => !grants.Any(g => g.SameRange(p))))
        {
            var range = Describe(extra);
            // Another replica may have revoked it meanwhile.
            await StepAsync(
                $"revoking {extra.PermType} on {range} from etcd role '{role.Name}'",
                () => IgnoreNotGrantedAsync(_etcd.RoleRevokePermissionAsync(role.Name, extra.Key, extra.RangeEnd, cancellationToken))).ConfigureAwait(false);
            LogRevokedPermission(role.Name, extra.PermType.ToString(), range);
        }
    }

    /// <summary>Makes sure <paramref name="user"/> exists and holds its role and no other; the user is never deleted, so its certificate keeps working throughout.</summary>
    private async Task EnsureUserAsync(EtcdUser user, CancellationToken cancellationToken)
    {
        // No password: the user can only authenticate with a client certificate whose CN is its name.
        await StepAsync($"adding etcd user '{user.Name}'", () => IgnoreExistingAsync(_etcd.UserAddAsync(user.Name, password: null, cancellationToken))).ConfigureAwait(false);
        var roles = await StepAsync($"reading the roles of etcd user '{user.Name}'", () => _etcd.UserGetRolesAsync(user.Name, cancellationToken)).ConfigureAwait(false);
        if (!roles.Contains(user.Role))
        {
            await StepAsync($"granting etcd role '{user.Role}' to user '{user.Name}'", () => _etcd.UserGrantRoleAsync(user.Name, user.Role, cancellationToken)).ConfigureAwait(false);
            LogGrantedRole(user.Name, user.Role);
        }

        foreach (var extra in roles.Where(r => r != user.Role))
        {
            // Granted by hand or by an older version: each user holds exactly its plan's role.
            await StepAsync(
                $"revoking etcd role '{extra}' from user '{user.Name}'",
                () => IgnoreNotGrantedAsync(_etcd.UserRevokeRoleAsync(user.Name, extra, cancellationToken))).ConfigureAwait(false);
            LogRevokedRole(user.Name, extra, user.Role);
        }
    }

    /// <summary>A permission's range as the plan would name it (key or prefix), or its raw bounds.</summary>
    private static string Describe(Permission permission)
    {
        var key = permission.Key.ToStringUtf8();
        if (permission.RangeEnd.IsEmpty)
        {
            return $"key '{key}'";
        }

        return permission.RangeEnd == KeyRange.PrefixEnd(permission.Key)
            ? $"prefix '{key}'"
            : $"range ['{key}', '{permission.RangeEnd.ToStringUtf8()}')";
    }

    /// <summary>
    /// Refuses a client certificate that is not an admin's: before auth is on any certificate may set it up, and
    /// enabling auth would then lock the apiserver itself out of etcd.
    /// </summary>
    private void CheckOwnCertificate(string certFile)
    {
        string? commonName;
        try
        {
            using var certificate = X509Certificate2.CreateFromPem(File.ReadAllText(certFile));
            commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException)
        {
            var message = $"--etcd-cert-file: cannot read the certificate {certFile}: {ex.Message}";
            LogFailed(message);
            throw new EtcdAccessBootstrapException(message, ex);
        }

        var admin = EtcdAccessPlan.AdminUser(_options.ClusterName);
        if (commonName != admin && commonName != EtcdAccessPlan.RootRole)
        {
            var message = $"--etcd-cert-file: the certificate's CN is '{commonName}', but the apiserver must connect as etcd user '{admin}' "
                + "(role root); enabling etcd auth with this certificate would lock the apiserver out (create it with 'clustermesh-apiserver certs')";
            LogFailed(message);
            throw new EtcdAccessBootstrapException(message);
        }
    }

    private static async Task StepAsync(string what, Func<Task> step)
    {
        try
        {
            await step().ConfigureAwait(false);
        }
        catch (EtcdException ex)
        {
            throw new EtcdAccessBootstrapException($"{what} failed: {ex.Message}", ex);
        }
    }

    private static async Task<T> StepAsync<T>(string what, Func<Task<T>> step)
    {
        try
        {
            return await step().ConfigureAwait(false);
        }
        catch (EtcdException ex)
        {
            throw new EtcdAccessBootstrapException($"{what} failed: {ex.Message}", ex);
        }
    }

    private static async Task IgnoreExistingAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (EtcdException ex) when (ex.Status == GrpcStatusCode.FailedPrecondition && ex.Detail.Contains("already exists", StringComparison.Ordinal))
        {
        }
    }

    private static async Task IgnoreMissingAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (EtcdException ex) when (ex.Status == GrpcStatusCode.FailedPrecondition && ex.Detail.Contains("not found", StringComparison.Ordinal))
        {
        }
    }

    private static async Task IgnoreNotGrantedAsync(Task call)
    {
        try
        {
            await call.ConfigureAwait(false);
        }
        catch (EtcdException ex) when (ex.Status == GrpcStatusCode.FailedPrecondition && ex.Detail.Contains("is not granted", StringComparison.Ordinal))
        {
        }
    }

    private static bool IsTransient(EtcdAccessBootstrapException ex)
        => ex.InnerException is EtcdUnavailableException or EtcdDeadlineExceededException;
}
