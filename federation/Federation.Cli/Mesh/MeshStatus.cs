using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Federation.Mesh.Remote;

namespace Federation.Cli.Mesh;

/// <summary>One node agent as <c>status</c> saw it.</summary>
public sealed record AgentStatus(string Node, bool Reachable, bool Ready, IReadOnlyList<string> RemotesNotReady, string? Problem)
{
    /// <summary>Reachable, ready, and every remote cluster the apiserver mirrors is ready in the agent's view.</summary>
    public bool Connected => Reachable && Ready && RemotesNotReady.Count == 0;
}

/// <summary>What <c>clustermesh status</c> reports for one cluster.</summary>
public sealed record ClusterStatusReport
{
    public required string Context { get; init; }

    public required string Cluster { get; init; }

    public required uint ClusterId { get; init; }

    /// <summary>Remote clusters listed in the cluster's <see cref="MeshObjects.ClusterMeshSecret"/>.</summary>
    public IReadOnlyList<string> Configured { get; init; } = [];

    /// <summary>Whether the apiserver answered and said it is ready (its own state exported).</summary>
    public bool ApiServerReachable { get; init; }

    public bool ApiServerReady { get; init; }

    public string? ApiServerProblem { get; init; }

    /// <summary>The apiserver's view of each remote cluster (kvstoremesh).</summary>
    public ImmutableArray<RemoteClusterStatus> Remotes { get; init; } = [];

    public int Nodes { get; init; }

    public IReadOnlyList<AgentStatus> Agents { get; init; } = [];

    public int AgentsConnected => Agents.Count(a => a.Connected);

    /// <summary>Every configured remote is Ready, the apiserver is ready, and every node's agent is connected.</summary>
    public bool AllReady => ApiServerReady
        && Configured.All(c => Remotes.Any(r => r.Name == c && r.State == RemoteClusterState.Ready))
        && Nodes > 0 && AgentsConnected == Nodes;

    /// <summary>The reasons <see cref="AllReady"/> is false, one line each.</summary>
    public IReadOnlyList<string> Problems()
    {
        var problems = new List<string>();
        if (!ApiServerReachable)
        {
            problems.Add($"clustermesh-apiserver unreachable: {ApiServerProblem}");
        }
        else if (!ApiServerReady)
        {
            problems.Add("clustermesh-apiserver not ready (initial export not finished)");
        }

        foreach (var name in Configured)
        {
            var remote = Remotes.FirstOrDefault(r => r.Name == name);
            if (remote is null)
            {
                if (ApiServerReachable)
                {
                    problems.Add($"remote {name}: configured but not (yet) picked up by the apiserver");
                }
            }
            else if (remote.State != RemoteClusterState.Ready)
            {
                problems.Add($"remote {name}: {remote.State.ToString().ToLowerInvariant()}{(remote.LastFailureReason is { } r ? ": " + r : string.Empty)}");
            }
        }

        foreach (var agent in Agents.Where(a => !a.Connected))
        {
            problems.Add($"node {agent.Node}: {agent.Problem ?? (agent.RemotesNotReady.Count > 0 ? "remotes not ready: " + string.Join(", ", agent.RemotesNotReady) : "agent not ready")}");
        }

        if (Nodes > Agents.Count)
        {
            problems.Add($"{Nodes - Agents.Count} node(s) without a node agent status annotation ({MeshObjects.AgentStatusAnnotation})");
        }

        return problems;
    }
}

/// <summary>Collects a <see cref="ClusterStatusReport"/>: the mesh objects, the apiserver's /status, and each node agent's /status.</summary>
public static class MeshStatusReader
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(3) };

    public static async Task<ClusterStatusReport> ReadAsync(IKubernetesClient client, string context, CancellationToken cancellationToken)
    {
        var settings = await MeshObjectStore.ReadSettingsAsync(client, context, cancellationToken);
        var configured = await MeshConnector.ConnectedAsync(client, context, cancellationToken);
        var report = new ClusterStatusReport { Context = context, Cluster = settings.ClusterName, ClusterId = settings.ClusterId, Configured = configured };

        if (settings.StatusUrl is null)
        {
            report = report with { ApiServerProblem = "no status-url recorded (clustermesh enable --status-url URL)" };
        }
        else
        {
            try
            {
                var json = JsonNode.Parse(await Http.GetStringAsync(new Uri(new Uri(settings.StatusUrl), "/status"), cancellationToken));
                var remotes = json?["kvstoremesh"]?["remotes"] is { } node
                    ? node.Deserialize(RemoteClusterStatusJsonContext.Default.RemoteClustersStatus)?.Clusters ?? []
                    : [];
                report = report with { ApiServerReachable = true, ApiServerReady = json?["ready"]?.GetValue<bool>() == true, Remotes = remotes };
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException && !cancellationToken.IsCancellationRequested)
            {
                report = report with { ApiServerProblem = $"{settings.StatusUrl}: {e.Message}" };
            }
        }

        var nodes = await client.ListAsync<Node>(null, cancellationToken: cancellationToken);
        var agents = await Task.WhenAll(nodes.Items
            .Where(n => n.Metadata.Annotations?.ContainsKey(MeshObjects.AgentStatusAnnotation) == true)
            .Select(n => ReadAgentAsync(n.Metadata.Name!, n.Metadata.Annotations![MeshObjects.AgentStatusAnnotation], configured, cancellationToken)));
        return report with { Nodes = nodes.Items.Count, Agents = [.. agents.OrderBy(a => a.Node, StringComparer.Ordinal)] };
    }

    private static async Task<AgentStatus> ReadAgentAsync(string node, string url, IReadOnlyList<string> configured, CancellationToken cancellationToken)
    {
        try
        {
            var json = JsonNode.Parse(await Http.GetStringAsync(url, cancellationToken));
            var remotes = json?["remotes"] is { } r ? r.Deserialize(RemoteClusterStatusJsonContext.Default.RemoteClustersStatus)?.Clusters ?? [] : [];
            var notReady = configured.Where(c => !remotes.Any(x => x.Name == c && x.State == RemoteClusterState.Ready)).ToList();
            return new AgentStatus(node, true, json?["ready"]?.GetValue<bool>() == true, notReady, null);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or UriFormatException && !cancellationToken.IsCancellationRequested)
        {
            return new AgentStatus(node, false, false, configured, $"agent unreachable at {url}: {e.Message}");
        }
    }
}
