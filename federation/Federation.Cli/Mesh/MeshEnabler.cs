using System.Net;
using System.Security.Cryptography.X509Certificates;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Pki;

namespace Federation.Cli.Mesh;

/// <summary>What <c>clustermesh enable</c> is asked to do.</summary>
public sealed record EnableRequest
{
    public required string Context { get; init; }

    /// <summary>Null: keep the recorded name (required the first time).</summary>
    public string? ClusterName { get; init; }

    public uint? ClusterId { get; init; }

    public uint? MaxConnectedClusters { get; init; }

    /// <summary>Where other clusters reach this cluster's etcd; null keeps the recorded ones (default for a new cluster: the in-cluster Service).</summary>
    public IReadOnlyList<string>? EtcdEndpoints { get; init; }

    public string? StatusUrl { get; init; }

    public string? ServiceType { get; init; }

    /// <summary>A CA to import (PEM certificate and key) when the cluster has none yet; clusters sharing a CA connect without bundling.</summary>
    public string? CaCertificatePem { get; init; }

    public string? CaPrivateKeyPem { get; init; }
}

/// <summary>One object <c>enable</c> looked at, and what it did with it.</summary>
public sealed record EnableAction(string Kind, string Name, string Action);

/// <summary>The outcome of <c>enable</c>.</summary>
public sealed record EnableResult(MeshSettings Settings, IReadOnlyList<EnableAction> Actions);

/// <summary>
/// <c>clustermesh enable</c>: creates (or keeps) the cluster's CA, the etcd server certificate, the client certificates of the
/// etcd users (admin, remote, local), and the <see cref="MeshObjects.ConfigMapName"/> ConfigMap. Idempotent: a second run
/// with the same settings changes nothing.
/// </summary>
public static class MeshEnabler
{
    public const string DefaultEtcdEndpoint = "https://clustermesh-apiserver.kube-system.svc:2379";

    private static readonly string[] ServiceTypes = ["NodePort", "LoadBalancer", "ClusterIP"];

    public static async Task<EnableResult> EnableAsync(IKubernetesClient client, EnableRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(request);
        var context = request.Context;
        var existing = await MeshObjectStore.TryReadSettingsAsync(client, context, cancellationToken);
        var settings = Merge(existing, request);
        var actions = new List<EnableAction>();

        await EnsureNamespaceAsync(client, context, cancellationToken);

        using var ca = await EnsureCaAsync(client, request, actions, cancellationToken);
        var caPem = ca.CertificatePem;
        var addresses = new List<IPAddress> { IPAddress.Loopback };
        var dnsNames = new List<string> { "localhost", "clustermesh-apiserver", "clustermesh-apiserver.kube-system.svc", $"{settings.ClusterName}.mesh.cilium.io" };
        foreach (var endpoint in settings.EtcdEndpoints)
        {
            var host = new Uri(endpoint).Host;
            if (IPAddress.TryParse(host, out var ip))
            {
                addresses.Add(ip);
            }
            else
            {
                dnsNames.Add(host);
            }
        }

        await EnsureCertificateAsync(client, context, MeshObjects.ServerCertSecret, caPem, actions, cancellationToken,
            issue: () => ca.IssueServer($"{settings.ClusterName}-etcd", addresses.Distinct(), dnsNames.Distinct(StringComparer.Ordinal)),
            fits: cert => cert.Subject == $"CN={settings.ClusterName}-etcd" && ServerNamesCover(cert, addresses, dnsNames));
        foreach (var (secret, user) in new[]
        {
            (MeshObjects.AdminCertSecret, "admin-" + settings.ClusterName),
            (MeshObjects.RemoteCertSecret, "remote-" + settings.ClusterName),
            (MeshObjects.LocalCertSecret, "local-" + settings.ClusterName),
        })
        {
            await EnsureCertificateAsync(client, context, secret, caPem, actions, cancellationToken,
                issue: () => ca.IssueClient(user),
                fits: cert => cert.Subject == $"CN={user}");
        }

        var changed = await MeshObjectStore.UpsertConfigMapAsync(client, context, settings.ToConfigMap(), cancellationToken);
        actions.Add(new EnableAction("ConfigMap", MeshObjects.ConfigMapName, changed ? (existing is null ? "created" : "updated") : "unchanged"));
        return new EnableResult(settings, actions);
    }

    /// <summary>The CA of a cluster: its certificate and key from <see cref="MeshObjects.CaSecret"/>.</summary>
    public static async Task<LabCertificateAuthority?> TryReadCaAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
    {
        var secret = await MeshObjectStore.TryGetAsync<Secret>(client, context, MeshObjects.CaSecret, cancellationToken);
        if (MeshObjectStore.Text(secret, "ca.crt") is not { } cert || MeshObjectStore.Text(secret, "ca.key") is not { } key)
        {
            return null;
        }

        try
        {
            return LabCertificateAuthority.FromPem(cert, key);
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
        {
            throw new CliException($"context {context}: Secret {MeshObjects.Namespace}/{MeshObjects.CaSecret} does not hold a usable CA: {e.Message}", "delete the Secret and run enable again (this issues new certificates)", e);
        }
    }

    private static MeshSettings Merge(MeshSettings? existing, EnableRequest request)
    {
        var context = request.Context;
        var name = request.ClusterName ?? existing?.ClusterName
            ?? throw new CliException($"context {context} is not enabled yet: --cluster-name is required", "e.g. clustermesh enable --context " + context + " --cluster-name cluster1 --cluster-id 1");
        if (existing is not null && existing.ClusterName != name)
        {
            throw new CliException(
                $"context {context} is already enabled as cluster '{existing.ClusterName}', not '{name}'",
                "a cluster's name is part of every key it exports; to rename it, disconnect it, delete ConfigMap kube-system/clustermesh-config and enable again");
        }

        if (ClusterIdentity.ValidateClusterName(name) is { Ok: false } badName)
        {
            throw new CliException($"--cluster-name: {badName.Error}", "use lowercase letters, digits and '-', e.g. cluster1");
        }

        var max = request.MaxConnectedClusters ?? existing?.MaxConnectedClusters ?? ClusterIdentity.DefaultMaxConnectedClusters;
        if (ClusterIdentity.ValidateMaxConnectedClusters(max) is { Ok: false } badMax)
        {
            throw new CliException($"--max-connected-clusters: {badMax.Error}", "use 255 (default) or 511, the same in every cluster of the mesh");
        }

        var id = request.ClusterId ?? existing?.ClusterId
            ?? throw new CliException($"context {context} is not enabled yet: --cluster-id is required", "pick an ID no other cluster of the mesh uses, 1–" + max);
        if (ClusterIdentity.ValidateClusterId(id, max) is { Ok: false } badId)
        {
            throw new CliException($"--cluster-id: {badId.Error}", "pick an ID no other cluster of the mesh uses, 1–" + max);
        }

        var endpoints = request.EtcdEndpoints ?? existing?.EtcdEndpoints ?? [DefaultEtcdEndpoint];
        foreach (var endpoint in endpoints)
        {
            if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
            {
                throw new CliException($"--etcd-endpoints: '{endpoint}' is not an http(s) URL", "e.g. https://127.0.0.1:2379");
            }
        }

        var serviceType = request.ServiceType ?? existing?.ServiceType ?? "NodePort";
        if (!ServiceTypes.Contains(serviceType, StringComparer.Ordinal))
        {
            throw new CliException($"--service-type: '{serviceType}' is not one of {string.Join(", ", ServiceTypes)}");
        }

        if (request.StatusUrl is { } statusUrl && !Uri.TryCreate(statusUrl, UriKind.Absolute, out _))
        {
            throw new CliException($"--status-url: '{statusUrl}' is not a URL", "e.g. http://127.0.0.1:9880");
        }

        return new MeshSettings
        {
            ClusterName = name,
            ClusterId = id,
            MaxConnectedClusters = max,
            EtcdEndpoints = endpoints,
            StatusUrl = request.StatusUrl ?? existing?.StatusUrl,
            ServiceType = serviceType,
        };
    }

    private static async Task EnsureNamespaceAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
    {
        try
        {
            await client.GetAsync<Namespace>(null, MeshObjects.Namespace, cancellationToken);
        }
        catch (KubernetesNotFoundException)
        {
            await client.CreateAsync(new Namespace { Metadata = new ObjectMeta { Name = MeshObjects.Namespace } }, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw MeshObjectStore.Unreachable(context, e);
        }
    }

    private static async Task<LabCertificateAuthority> EnsureCaAsync(IKubernetesClient client, EnableRequest request, List<EnableAction> actions, CancellationToken cancellationToken)
    {
        if (await TryReadCaAsync(client, request.Context, cancellationToken) is { } existing)
        {
            actions.Add(new EnableAction("Secret", MeshObjects.CaSecret, "unchanged"));
            return existing;
        }

        LabCertificateAuthority ca;
        string action;
        if (request.CaCertificatePem is { } certPem && request.CaPrivateKeyPem is { } keyPem)
        {
            try
            {
                ca = LabCertificateAuthority.FromPem(certPem, keyPem);
            }
            catch (Exception e) when (e is System.Security.Cryptography.CryptographicException or ArgumentException)
            {
                throw new CliException($"--ca-cert/--ca-key: not a usable CA certificate and key: {e.Message}", "pass PEM files; the key must be the certificate's", e);
            }

            action = "created (imported CA)";
        }
        else
        {
            ca = LabCertificateAuthority.Create($"federation-{request.ClusterName ?? request.Context}-ca", TimeSpan.FromDays(3650));
            action = "created (new CA)";
        }

        await client.CreateAsync(MeshObjectStore.NewSecret(MeshObjects.CaSecret, new Dictionary<string, string> { ["ca.crt"] = ca.CertificatePem, ["ca.key"] = ca.PrivateKeyPem }), cancellationToken);
        actions.Add(new EnableAction("Secret", MeshObjects.CaSecret, action));
        return ca;
    }

    private static async Task EnsureCertificateAsync(
        IKubernetesClient client,
        string context,
        string secretName,
        string caPem,
        List<EnableAction> actions,
        CancellationToken cancellationToken,
        Func<PemCertificate> issue,
        Func<X509Certificate2, bool> fits)
    {
        var existing = await MeshObjectStore.TryGetAsync<Secret>(client, context, secretName, cancellationToken);
        if (MeshObjectStore.Text(existing, "tls.crt") is { } certPem
            && MeshObjectStore.Text(existing, "ca.crt") == caPem
            && Usable(certPem, fits))
        {
            actions.Add(new EnableAction("Secret", secretName, "unchanged"));
            return;
        }

        var issued = issue();
        var secret = MeshObjectStore.NewSecret(secretName, new Dictionary<string, string>
        {
            ["tls.crt"] = issued.CertificatePem,
            ["tls.key"] = issued.PrivateKeyPem,
            ["ca.crt"] = caPem,
        });
        await MeshObjectStore.UpsertSecretAsync(client, context, secret, cancellationToken);
        actions.Add(new EnableAction("Secret", secretName, existing is null ? "created" : "reissued"));
    }

    private static bool Usable(string certPem, Func<X509Certificate2, bool> fits)
    {
        try
        {
            using var cert = X509Certificate2.CreateFromPem(certPem);
            return cert.NotAfter.ToUniversalTime() > DateTime.UtcNow.AddDays(30) && fits(cert);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return false;
        }
    }

    private static bool ServerNamesCover(X509Certificate2 cert, IEnumerable<IPAddress> addresses, IEnumerable<string> dnsNames)
    {
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().FirstOrDefault();
        if (san is null)
        {
            return false;
        }

        var ips = san.EnumerateIPAddresses().ToHashSet();
        var names = san.EnumerateDnsNames().ToHashSet(StringComparer.OrdinalIgnoreCase);
        return addresses.All(ips.Contains) && dnsNames.All(names.Contains);
    }
}
