using System.Collections.Concurrent;
using System.Threading.Channels;
using Federation.Etcd.ClusterMesh;
using Federation.Mesh.Remote;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tunnels;

/// <summary>
/// Feeds remote node records (<see cref="IRemoteClusterObserver"/>) to a <see cref="WireGuardPeerReconciler"/>.
/// The observer side never blocks: changes go through a channel that <see cref="RunAsync"/> applies in order.
/// </summary>
internal sealed partial class WireGuardNodeObserver(WireGuardPeerReconciler reconciler, ILogger<WireGuardNodeObserver>? logger = null) : IRemoteClusterObserver
{
    private readonly Channel<Func<CancellationToken, Task>> _changes = Channel.CreateUnbounded<Func<CancellationToken, Task>>(new UnboundedChannelOptions { SingleReader = true });
    private readonly ConcurrentDictionary<(string Cluster, string Key), NodeId> _keys = new();
    private readonly ConcurrentDictionary<string, bool> _syncedClusters = new(StringComparer.Ordinal);
    private readonly ILogger _logger = logger ?? NullLogger<WireGuardNodeObserver>.Instance;

    /// <summary>The clusters whose nodes have all been delivered.</summary>
    public IReadOnlyCollection<string> SyncedClusters => [.. _syncedClusters.Keys];

    /// <summary>The peer input of a node record: endpoint = first InternalIP (IPv4 first), pod CIDRs = all allocation CIDRs.</summary>
    public static RemoteNodeTunnel FromNode(Node node)
    {
        var internalIps = (node.IPAddresses ?? []).Where(a => a.Type == "InternalIP").Select(a => a.IP).ToList();
        var endpoint = internalIps.FirstOrDefault(ip => !ip.Contains(':', StringComparison.Ordinal)) ?? internalIps.FirstOrDefault() ?? string.Empty;
        IEnumerable<NodeCidr?> cidrs = [node.IPv4AllocCidr, .. node.IPv4SecondaryAllocCidrs ?? [], node.IPv6AllocCidr, .. node.IPv6SecondaryAllocCidrs ?? []];
        return new RemoteNodeTunnel
        {
            Cluster = node.Cluster,
            Node = node.Name,
            PublicKey = node.WireguardPubKey,
            EndpointIP = endpoint,
            PodCidrs = [.. cidrs.OfType<NodeCidr>().Where(c => c.IP.Length > 0).Select(Format)],
        };
    }

    /// <summary>Tells the reconciler that the remote data is complete (after every remote cluster's nodes are synced);
    /// stale peers and routes of a previous run go then.</summary>
    public void MarkSynced() => Enqueue(ct => reconciler.MarkSyncedAsync(ct));

    /// <summary>Applies the changes until cancelled. A failed change is logged and counted, and the loop goes on.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await foreach (var change in _changes.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await change(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                WireGuardMetrics.Failures.Add(1);
                Log.Failed(_logger, e);
            }
        }
    }

    /// <summary>Stops accepting changes; <see cref="RunAsync"/> ends after the queued ones.</summary>
    public void Complete() => _changes.Writer.TryComplete();

    public void OnUpsert(string cluster, ClusterMeshKind kind, string key, ReadOnlyMemory<byte> value, object decoded)
    {
        if (kind != ClusterMeshKind.Nodes || decoded is not Node node)
        {
            return;
        }

        var tunnel = FromNode(node) with { Cluster = cluster };
        var id = new NodeId(cluster, tunnel.Node);
        if (_keys.TryGetValue((cluster, key), out var previous) && previous != id)
        {
            Enqueue(ct => reconciler.DeleteAsync(previous.Cluster, previous.Node, ct));
        }

        _keys[(cluster, key)] = id;
        Enqueue(ct => reconciler.UpsertAsync(tunnel, ct));
    }

    public void OnDelete(string cluster, ClusterMeshKind kind, string key)
    {
        if (kind == ClusterMeshKind.Nodes && _keys.TryRemove((cluster, key), out var id))
        {
            Enqueue(ct => reconciler.DeleteAsync(id.Cluster, id.Node, ct));
        }
    }

    public void OnSynced(string cluster, ClusterMeshKind kind)
    {
        if (kind == ClusterMeshKind.Nodes)
        {
            _syncedClusters[cluster] = true;
        }
    }

    public void OnClusterConfig(string cluster, CiliumClusterConfig config)
    {
    }

    public void OnRemoved(string cluster)
    {
        _syncedClusters.TryRemove(cluster, out _);
        foreach (var entry in _keys.Where(e => e.Key.Cluster == cluster).ToList())
        {
            _keys.TryRemove(entry.Key, out _);
        }

        Enqueue(ct => reconciler.RemoveClusterAsync(cluster, ct));
    }

    private static string Format(NodeCidr cidr) => cidr.Mask?.PrefixLength is { } length ? $"{cidr.IP}/{length}" : cidr.IP;

    private void Enqueue(Func<CancellationToken, Task> change) => _changes.Writer.TryWrite(change);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Error, Message = "WireGuard: a peer change failed to apply")]
        public static partial void Failed(ILogger logger, Exception exception);
    }
}
