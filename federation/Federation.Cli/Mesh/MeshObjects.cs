using System.Globalization;
using System.Text;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;

namespace Federation.Cli.Mesh;

/// <summary>Names of the Kubernetes objects that hold a cluster's mesh configuration (all in <see cref="Namespace"/>).</summary>
public static class MeshObjects
{
    public const string Namespace = "kube-system";

    /// <summary>ConfigMap written by <c>enable</c>: the cluster's name, ID, etcd endpoints and status URL.</summary>
    public const string ConfigMapName = "clustermesh-config";

    /// <summary>Secret with the cluster's CA (<c>ca.crt</c>, <c>ca.key</c>).</summary>
    public const string CaSecret = "clustermesh-apiserver-ca";

    /// <summary>Secret with etcd's serving certificate (<c>tls.crt</c>, <c>tls.key</c>, <c>ca.crt</c>).</summary>
    public const string ServerCertSecret = "clustermesh-apiserver-server-cert";

    /// <summary>Secret with the client certificate of the clustermesh-apiserver itself (etcd user <c>admin-&lt;cluster&gt;</c>).</summary>
    public const string AdminCertSecret = "clustermesh-apiserver-admin-cert";

    /// <summary>Secret with the client certificate this cluster presents to remote etcds (user <c>remote-&lt;cluster&gt;</c>).</summary>
    public const string RemoteCertSecret = "clustermesh-apiserver-remote-cert";

    /// <summary>Secret with the client certificate of the cluster's node agents (user <c>local-&lt;cluster&gt;</c>).</summary>
    public const string LocalCertSecret = "clustermesh-apiserver-local-cert";

    /// <summary>Secret with one entry per connected remote cluster, in Cilium's layout (the apiserver projects it into its config directory).</summary>
    public const string ClusterMeshSecret = "cilium-clustermesh";

    /// <summary>ConfigMap whose <c>peer-clusters</c> lists the clusters allowed to read this one (the apiserver's <c>--peer-clusters</c>).</summary>
    public const string PeersConfigMap = "clustermesh-peers";

    /// <summary>Secret holding a CA bundle of clusters connected with <c>--allow-mismatching-ca</c>.</summary>
    public const string CaBundleSecret = "clustermesh-apiserver-ca-bundle";

    /// <summary>Annotation the node agent puts on its Node: the URL of its /status.</summary>
    public const string AgentStatusAnnotation = "federation.io/node-agent-status";
}

/// <summary>What <c>enable</c> recorded about a cluster (ConfigMap <see cref="MeshObjects.ConfigMapName"/>).</summary>
public sealed record MeshSettings
{
    public required string ClusterName { get; init; }

    public required uint ClusterId { get; init; }

    public uint MaxConnectedClusters { get; init; } = ClusterIdentity.DefaultMaxConnectedClusters;

    /// <summary>Where other clusters reach this cluster's etcd.</summary>
    public IReadOnlyList<string> EtcdEndpoints { get; init; } = [];

    /// <summary>The clustermesh-apiserver's status URL (its /status), if the CLI can reach it.</summary>
    public string? StatusUrl { get; init; }

    /// <summary>How the etcd is exposed (NodePort, LoadBalancer, ClusterIP): read by the manifests; the lab uses loopback.</summary>
    public string ServiceType { get; init; } = "NodePort";

    public ConfigMap ToConfigMap() => new()
    {
        Metadata = new ObjectMeta { Name = MeshObjects.ConfigMapName, Namespace = MeshObjects.Namespace, Labels = new Dictionary<string, string> { ["app.kubernetes.io/part-of"] = "federation" } },
        Data = new Dictionary<string, string>
        {
            ["cluster-name"] = ClusterName,
            ["cluster-id"] = ClusterId.ToString(CultureInfo.InvariantCulture),
            ["max-connected-clusters"] = MaxConnectedClusters.ToString(CultureInfo.InvariantCulture),
            ["etcd-endpoints"] = string.Join(',', EtcdEndpoints),
            ["status-url"] = StatusUrl ?? string.Empty,
            ["service-type"] = ServiceType,
        },
    };

    /// <summary>Parses the ConfigMap; <paramref name="context"/> only names the cluster in errors.</summary>
    public static MeshSettings FromConfigMap(ConfigMap configMap, string context)
    {
        ArgumentNullException.ThrowIfNull(configMap);
        var data = configMap.Data ?? new Dictionary<string, string>();
        string Get(string key) => data.TryGetValue(key, out var v) && !string.IsNullOrWhiteSpace(v)
            ? v.Trim()
            : throw new CliException($"context {context}: ConfigMap {MeshObjects.Namespace}/{MeshObjects.ConfigMapName} has no '{key}'", $"run: clustermesh enable --context {context}");
        uint GetUInt(string key) => uint.TryParse(Get(key), NumberStyles.None, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new CliException($"context {context}: ConfigMap {MeshObjects.Namespace}/{MeshObjects.ConfigMapName} '{key}' is not a number: '{Get(key)}'", $"run: clustermesh enable --context {context}");
        return new MeshSettings
        {
            ClusterName = Get("cluster-name"),
            ClusterId = GetUInt("cluster-id"),
            MaxConnectedClusters = GetUInt("max-connected-clusters"),
            EtcdEndpoints = data.TryGetValue("etcd-endpoints", out var e) ? [.. e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] : [],
            StatusUrl = data.TryGetValue("status-url", out var s) && s.Length > 0 ? s : null,
            ServiceType = data.TryGetValue("service-type", out var t) && t.Length > 0 ? t : "NodePort",
        };
    }
}

/// <summary>Reading and writing the mesh objects through the Kubernetes API.</summary>
public static class MeshObjectStore
{
    public static async Task<MeshSettings?> TryReadSettingsAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
    {
        var configMap = await TryGetAsync<ConfigMap>(client, context, MeshObjects.ConfigMapName, cancellationToken);
        return configMap is null ? null : MeshSettings.FromConfigMap(configMap, context);
    }

    public static async Task<MeshSettings> ReadSettingsAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
        => await TryReadSettingsAsync(client, context, cancellationToken)
            ?? throw new CliException($"cluster of context {context} is not enabled for the mesh (no ConfigMap {MeshObjects.Namespace}/{MeshObjects.ConfigMapName})", $"run: clustermesh enable --context {context} --cluster-name NAME --cluster-id ID");

    public static async Task<T?> TryGetAsync<T>(IKubernetesClient client, string context, string name, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<T>
    {
        try
        {
            return await client.GetAsync<T>(MeshObjects.Namespace, name, cancellationToken);
        }
        catch (KubernetesNotFoundException)
        {
            return null;
        }
        catch (HttpRequestException e)
        {
            throw Unreachable(context, e);
        }
        catch (TaskCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw Unreachable(context, e);
        }
    }

    /// <summary>A secret's text value, or null.</summary>
    public static string? Text(Secret? secret, string key)
        => secret?.Data is { } data && data.TryGetValue(key, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;

    /// <summary>Creates or replaces <paramref name="item"/> (by name), returning whether anything changed.</summary>
    public static async Task<bool> UpsertSecretAsync(IKubernetesClient client, string context, Secret item, CancellationToken cancellationToken)
    {
        var existing = await TryGetAsync<Secret>(client, context, item.Metadata.Name!, cancellationToken);
        if (existing is null)
        {
            await client.CreateAsync(item, cancellationToken);
            return true;
        }

        if (SameData(existing.Data, item.Data))
        {
            return false;
        }

        await client.UpdateAsync(item with { Metadata = item.Metadata with { ResourceVersion = existing.Metadata.ResourceVersion } }, cancellationToken);
        return true;
    }

    public static async Task<bool> UpsertConfigMapAsync(IKubernetesClient client, string context, ConfigMap item, CancellationToken cancellationToken)
    {
        var existing = await TryGetAsync<ConfigMap>(client, context, item.Metadata.Name!, cancellationToken);
        if (existing is null)
        {
            await client.CreateAsync(item, cancellationToken);
            return true;
        }

        var same = existing.Data is { } a && item.Data is { } b && a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);
        if (same)
        {
            return false;
        }

        await client.UpdateAsync(item with { Metadata = item.Metadata with { ResourceVersion = existing.Metadata.ResourceVersion } }, cancellationToken);
        return true;
    }

    public static Secret NewSecret(string name, IReadOnlyDictionary<string, string> values) => new()
    {
        Metadata = new ObjectMeta { Name = name, Namespace = MeshObjects.Namespace, Labels = new Dictionary<string, string> { ["app.kubernetes.io/part-of"] = "federation" } },
        Type = "Opaque",
        Data = values.ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetBytes(kv.Value), StringComparer.Ordinal),
    };

    public static CliException Unreachable(string context, Exception e)
        => new($"cannot reach the Kubernetes API of context {context}: {e.Message}", "is the cluster running? (lab: clustermesh lab status)", e);

    private static bool SameData(IReadOnlyDictionary<string, byte[]>? a, IReadOnlyDictionary<string, byte[]>? b)
    {
        a ??= new Dictionary<string, byte[]>();
        b ??= new Dictionary<string, byte[]>();
        return a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v.AsSpan().SequenceEqual(kv.Value));
    }
}
