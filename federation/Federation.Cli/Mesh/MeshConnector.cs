using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;

namespace Federation.Cli.Mesh;

/// <summary>How <c>connect</c> pairs the clusters it is given.</summary>
public enum ConnectionMode
{
    /// <summary>Source ↔ each destination (both read each other).</summary>
    Bidirectional,

    /// <summary>Every pair of all the given clusters, both ways.</summary>
    Mesh,

    /// <summary>Source → each destination only (the source reads the destinations).</summary>
    Unicast,
}

/// <summary>One cluster as <c>connect</c> sees it: its context, settings, CA and the certificate it presents to remote etcds.</summary>
public sealed record MeshCluster(string Context, IKubernetesClient Client, MeshSettings Settings, string CaPem, string RemoteCertPem, string RemoteKeyPem);

/// <summary>One direction of a connection: <see cref="Reader"/> reads <see cref="Target"/>'s etcd.</summary>
public sealed record MeshLink(MeshCluster Reader, MeshCluster Target);

/// <summary><c>clustermesh connect</c> and <c>disconnect</c>.</summary>
public static class MeshConnector
{
    /// <summary>How long the reachability check of a destination etcd waits for a TCP connection.</summary>
    public static TimeSpan ReachabilityTimeout { get; set; } = TimeSpan.FromSeconds(3);

    public static async Task<MeshCluster> ReadClusterAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
    {
        var settings = await MeshObjectStore.ReadSettingsAsync(client, context, cancellationToken);
        var ca = await MeshObjectStore.TryGetAsync<Secret>(client, context, MeshObjects.CaSecret, cancellationToken);
        var remote = await MeshObjectStore.TryGetAsync<Secret>(client, context, MeshObjects.RemoteCertSecret, cancellationToken);
        var caPem = MeshObjectStore.Text(ca, "ca.crt");
        var certPem = MeshObjectStore.Text(remote, "tls.crt");
        var keyPem = MeshObjectStore.Text(remote, "tls.key");
        if (caPem is null || certPem is null || keyPem is null)
        {
            throw new CliException(
                $"context {context}: the mesh certificates are missing (Secrets {MeshObjects.CaSecret} and {MeshObjects.RemoteCertSecret})",
                $"run: clustermesh enable --context {context}");
        }

        return new MeshCluster(context, client, settings, caPem, certPem, keyPem);
    }

    /// <summary>The directed links <paramref name="mode"/> makes of a source and its destinations.</summary>
    public static IReadOnlyList<MeshLink> Links(MeshCluster source, IReadOnlyList<MeshCluster> destinations, ConnectionMode mode)
    {
        var links = new List<MeshLink>();
        switch (mode)
        {
            case ConnectionMode.Unicast:
                links.AddRange(destinations.Select(d => new MeshLink(source, d)));
                break;
            case ConnectionMode.Bidirectional:
                foreach (var d in destinations)
                {
                    links.Add(new MeshLink(source, d));
                    links.Add(new MeshLink(d, source));
                }

                break;
            case ConnectionMode.Mesh:
                var all = new List<MeshCluster> { source };
                all.AddRange(destinations);
                foreach (var a in all)
                {
                    links.AddRange(all.Where(b => !ReferenceEquals(a, b)).Select(b => new MeshLink(a, b)));
                }

                break;
        }

        return links;
    }

    /// <summary>
    /// Checks every rule of a mesh before anything is written: distinct valid names, distinct IDs in range, the same
    /// maxConnectedClusters, the same CA (unless <paramref name="allowMismatchingCa"/>). Throws a <see cref="CliException"/>
    /// naming the cause and the fix.
    /// </summary>
    public static void Validate(IReadOnlyList<MeshCluster> clusters, bool allowMismatchingCa)
    {
        foreach (var c in clusters)
        {
            if (ClusterIdentity.ValidateClusterName(c.Settings.ClusterName) is { Ok: false } badName)
            {
                throw new CliException($"context {c.Context}: cluster name '{c.Settings.ClusterName}' is invalid: {badName.Error}", $"enable it again with a valid --cluster-name");
            }

            if (ClusterIdentity.ValidateClusterId(c.Settings.ClusterId, c.Settings.MaxConnectedClusters) is { Ok: false } badId)
            {
                throw new CliException($"context {c.Context}: cluster ID {c.Settings.ClusterId} is invalid: {badId.Error}", "enable it again with a valid --cluster-id");
            }
        }

        for (var i = 0; i < clusters.Count; i++)
        {
            for (var j = i + 1; j < clusters.Count; j++)
            {
                var (a, b) = (clusters[i], clusters[j]);
                if (a.Settings.ClusterName == b.Settings.ClusterName)
                {
                    throw new CliException(
                        $"contexts {a.Context} and {b.Context} have the same cluster name '{a.Settings.ClusterName}'",
                        "every cluster of a mesh needs its own name: enable one of them with another --cluster-name");
                }

                if (a.Settings.ClusterId == b.Settings.ClusterId)
                {
                    throw new CliException(
                        $"clusters {a.Settings.ClusterName} ({a.Context}) and {b.Settings.ClusterName} ({b.Context}) have the same cluster ID {a.Settings.ClusterId}",
                        "identities and backends are told apart by cluster ID: give one of them another --cluster-id with clustermesh enable");
                }

                if (a.Settings.MaxConnectedClusters != b.Settings.MaxConnectedClusters)
                {
                    throw new CliException(
                        $"clusters {a.Settings.ClusterName} and {b.Settings.ClusterName} disagree on maxConnectedClusters ({a.Settings.MaxConnectedClusters} vs {b.Settings.MaxConnectedClusters})",
                        "the identity space is split by it: enable both with the same --max-connected-clusters");
                }

                if (!allowMismatchingCa && !SameCa(a.CaPem, b.CaPem))
                {
                    throw new CliException(
                        $"clusters {a.Settings.ClusterName} and {b.Settings.ClusterName} have different certificate authorities",
                        "their etcds would refuse each other's client certificates: enable both with the same CA (--ca-cert/--ca-key), or pass --allow-mismatching-ca to add each CA to the other's trust bundle (the etcds must be restarted to load it)");
                }
            }
        }
    }

    /// <summary>Fails with a clear error when the target's etcd endpoints accept no TCP connection.</summary>
    public static async Task CheckReachableAsync(MeshCluster target, CancellationToken cancellationToken)
    {
        if (target.Settings.EtcdEndpoints.Count == 0)
        {
            throw new CliException($"cluster {target.Settings.ClusterName} ({target.Context}) records no etcd endpoints", $"run: clustermesh enable --context {target.Context} --etcd-endpoints https://HOST:PORT");
        }

        var failures = new List<string>();
        foreach (var endpoint in target.Settings.EtcdEndpoints)
        {
            var uri = new Uri(endpoint);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ReachabilityTimeout);
            try
            {
                using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(uri.Host, uri.Port, timeout.Token);
                return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                failures.Add($"{endpoint}: no answer within {ReachabilityTimeout.TotalSeconds:0.#} s");
            }
            catch (SocketException e)
            {
                failures.Add($"{endpoint}: {e.Message}");
            }
        }

        throw new CliException(
            $"the etcd of cluster {target.Settings.ClusterName} ({target.Context}) is unreachable: {string.Join("; ", failures)}",
            $"is its clustermesh-apiserver and etcd running? check: clustermesh status --context {target.Context}; or fix the endpoints with: clustermesh enable --context {target.Context} --etcd-endpoints ...");
    }

    /// <summary>Writes <paramref name="link"/>'s entry into the reader's <see cref="MeshObjects.ClusterMeshSecret"/>; returns whether it changed.</summary>
    public static async Task<bool> WriteLinkAsync(MeshLink link, bool allowMismatchingCa, CancellationToken cancellationToken)
    {
        var (reader, target) = (link.Reader, link.Target);
        var name = target.Settings.ClusterName;
        var entries = await ReadEntriesAsync(reader, cancellationToken);
        entries[name] = RemoteConfigYaml(target);
        entries[name + ".etcd-client-ca.crt"] = target.CaPem;
        entries[name + ".etcd-client.crt"] = reader.RemoteCertPem;
        entries[name + ".etcd-client.key"] = reader.RemoteKeyPem;
        var changed = await MeshObjectStore.UpsertSecretAsync(reader.Client, reader.Context, MeshObjectStore.NewSecret(MeshObjects.ClusterMeshSecret, entries), cancellationToken);

        // The target's apiserver creates an etcd user remote-<reader> for each cluster listed here (read at its start).
        changed |= await UpdatePeersAsync(target.Client, target.Context, reader.Settings.ClusterName, add: true, cancellationToken);
        if (allowMismatchingCa && !SameCa(reader.CaPem, target.CaPem))
        {
            // The target's etcd must trust the reader's CA to accept its client certificate.
            var bundle = await MeshObjectStore.TryGetAsync<Secret>(target.Client, target.Context, MeshObjects.CaBundleSecret, cancellationToken);
            var text = MeshObjectStore.Text(bundle, "ca-bundle.crt") ?? target.CaPem;
            if (!text.Contains(reader.CaPem.Trim(), StringComparison.Ordinal))
            {
                text = text.TrimEnd() + "\n" + reader.CaPem;
            }

            changed |= await MeshObjectStore.UpsertSecretAsync(target.Client, target.Context, MeshObjectStore.NewSecret(MeshObjects.CaBundleSecret, new Dictionary<string, string> { ["ca-bundle.crt"] = text }), cancellationToken);
        }

        return changed;
    }

    /// <summary>Adds or removes <paramref name="peer"/> in the <c>peer-clusters</c> list of <see cref="MeshObjects.PeersConfigMap"/>.</summary>
    public static async Task<bool> UpdatePeersAsync(IKubernetesClient client, string context, string peer, bool add, CancellationToken cancellationToken)
    {
        // Links written in parallel (--parallel) update the same ConfigMap: read-modify-write again on a conflict.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await TryUpdatePeersAsync(client, context, peer, add, cancellationToken);
            }
            catch (KubernetesConflictException) when (attempt < 10)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20 * attempt), cancellationToken);
            }
        }
    }

    private static async Task<bool> TryUpdatePeersAsync(IKubernetesClient client, string context, string peer, bool add, CancellationToken cancellationToken)
    {
        var existing = await MeshObjectStore.TryGetAsync<ConfigMap>(client, context, MeshObjects.PeersConfigMap, cancellationToken);
        var peers = (existing?.Data?.GetValueOrDefault("peer-clusters") ?? string.Empty)
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.Ordinal);
        if (!(add ? peers.Add(peer) : peers.Remove(peer)))
        {
            return false;
        }

        return await MeshObjectStore.UpsertConfigMapAsync(client, context, new ConfigMap
        {
            Metadata = new ObjectMeta { Name = MeshObjects.PeersConfigMap, Namespace = MeshObjects.Namespace },
            Data = new Dictionary<string, string> { ["peer-clusters"] = string.Join(',', peers.Order(StringComparer.Ordinal)) },
        }, cancellationToken);
    }

    /// <summary>Removes the entry of <paramref name="targetName"/> from the reader's secret; returns whether it was there.</summary>
    public static async Task<bool> RemoveLinkAsync(IKubernetesClient readerClient, string readerContext, string targetName, CancellationToken cancellationToken)
    {
        var secret = await MeshObjectStore.TryGetAsync<Secret>(readerClient, readerContext, MeshObjects.ClusterMeshSecret, cancellationToken);
        if (secret?.Data is not { } data)
        {
            return false;
        }

        var kept = data.Where(kv => kv.Key != targetName && !kv.Key.StartsWith(targetName + ".", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetString(kv.Value), StringComparer.Ordinal);
        if (kept.Count == data.Count)
        {
            return false;
        }

        await MeshObjectStore.UpsertSecretAsync(readerClient, readerContext, MeshObjectStore.NewSecret(MeshObjects.ClusterMeshSecret, kept), cancellationToken);
        return true;
    }

    /// <summary>The remote clusters a cluster's secret lists.</summary>
    public static async Task<IReadOnlyList<string>> ConnectedAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
    {
        var secret = await MeshObjectStore.TryGetAsync<Secret>(client, context, MeshObjects.ClusterMeshSecret, cancellationToken);
        return [.. (secret?.Data?.Keys ?? []).Where(k => !k.Contains('.', StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    /// <summary>Cilium's remote-cluster file: endpoints and the three TLS files, named relative to the config directory.</summary>
    public static string RemoteConfigYaml(MeshCluster target)
    {
        var name = target.Settings.ClusterName;
        var builder = new StringBuilder();
        builder.Append("endpoints:\n");
        foreach (var endpoint in target.Settings.EtcdEndpoints)
        {
            builder.Append("- ").Append(endpoint).Append('\n');
        }

        builder.Append("trusted-ca-file: ").Append(name).Append(".etcd-client-ca.crt\n");
        builder.Append("cert-file: ").Append(name).Append(".etcd-client.crt\n");
        builder.Append("key-file: ").Append(name).Append(".etcd-client.key\n");
        return builder.ToString();
    }

    private static async Task<Dictionary<string, string>> ReadEntriesAsync(MeshCluster reader, CancellationToken cancellationToken)
    {
        var secret = await MeshObjectStore.TryGetAsync<Secret>(reader.Client, reader.Context, MeshObjects.ClusterMeshSecret, cancellationToken);
        return (secret?.Data ?? new Dictionary<string, byte[]>()).ToDictionary(kv => kv.Key, kv => Encoding.UTF8.GetString(kv.Value), StringComparer.Ordinal);
    }

    private static bool SameCa(string a, string b)
    {
        using var ca = X509Certificate2.CreateFromPem(a);
        using var cb = X509Certificate2.CreateFromPem(b);
        return ca.RawDataMemory.Span.SequenceEqual(cb.RawDataMemory.Span);
    }
}
