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
/// exist, that users of peers no longer configured are gone, and that etcd auth is enabled. Runs only when
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
            await StepAsync($"adding etcd role '{role.Name}'", () => IgnoreExistingAsync(_etcd.RoleAddAsync(role.Name, cancellationToken))).ConfigureAwait(false);
            foreach (var prefix in role.ReadPrefixes)
            {
                // Granting an existing permission again replaces it: no change, no error.
                await StepAsync(
                    $"granting etcd role '{role.Name}' read on prefix '{prefix}'",
                    () => _etcd.RoleGrantPrefixPermissionAsync(role.Name, prefix, Permission.Types.Type.Read, cancellationToken)).ConfigureAwait(false);
            }

            foreach (var key in role.ReadKeys)
            {
                await StepAsync(
                    $"granting etcd role '{role.Name}' read on key '{key}'",
                    () => _etcd.RoleGrantKeyPermissionAsync(role.Name, key, Permission.Types.Type.Read, cancellationToken)).ConfigureAwait(false);
            }
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

    private async Task EnsureUserAsync(EtcdUser user, CancellationToken cancellationToken)
    {
        // No password: the user can only authenticate with a client certificate whose CN is its name.
        await StepAsync($"adding etcd user '{user.Name}'", () => IgnoreExistingAsync(_etcd.UserAddAsync(user.Name, password: null, cancellationToken))).ConfigureAwait(false);
        var roles = await StepAsync($"reading the roles of etcd user '{user.Name}'", () => _etcd.UserGetRolesAsync(user.Name, cancellationToken)).ConfigureAwait(false);
        var unexpected = roles.Where(r => r != user.Role).ToList();
        if (unexpected.Count > 0 && user.Role != EtcdAccessPlan.RootRole)
        {
            // A read-only user holding more (granted by hand, or by an older version) is recreated with exactly
            // its role: the client has no UserRevokeRole, and deleting a user drops all its grants.
            LogRecreatingUser(user.Name, string.Join(",", unexpected), user.Role);
            await StepAsync($"removing etcd user '{user.Name}' to drop roles {string.Join(",", unexpected)}", () => IgnoreMissingAsync(_etcd.UserDeleteAsync(user.Name, cancellationToken))).ConfigureAwait(false);
            await StepAsync($"adding etcd user '{user.Name}'", () => IgnoreExistingAsync(_etcd.UserAddAsync(user.Name, password: null, cancellationToken))).ConfigureAwait(false);
            roles = [];
        }

        if (!roles.Contains(user.Role))
        {
            await StepAsync($"granting etcd role '{user.Role}' to user '{user.Name}'", () => _etcd.UserGrantRoleAsync(user.Name, user.Role, cancellationToken)).ConfigureAwait(false);
        }
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

    private static bool IsTransient(EtcdAccessBootstrapException ex)
        => ex.InnerException is EtcdUnavailableException or EtcdDeadlineExceededException;
}
