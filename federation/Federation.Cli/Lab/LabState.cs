using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.Cli.Lab;

/// <summary>A process the lab started (detached), recognised later by its pid and start time.</summary>
public sealed record LabProcess
{
    public required string Name { get; init; }

    public required int Pid { get; init; }

    /// <summary>Field 22 of /proc/PID/stat: tells a lab process from a later process that reused its pid.</summary>
    public required long StartTicks { get; init; }

    public required string Log { get; init; }

    /// <summary><c>etcd</c>, <c>kube-apiserver</c>, <c>clustermesh-apiserver</c>, <c>node-agent</c> or <c>pod</c>.</summary>
    public required string Role { get; init; }

    public string? Cluster { get; init; }
}

/// <summary>One node of a lab cluster: a network namespace, a cgroup, a node agent.</summary>
public sealed record LabNode
{
    public required string Name { get; init; }

    public required string Namespace { get; init; }

    public required string Address { get; init; }

    public required string PodCidr { get; init; }

    public required string Cgroup { get; init; }

    public required string WireGuardInterface { get; init; }

    public required int AgentPort { get; init; }

    /// <summary>The veth end on the underlay bridge.</summary>
    public required string UnderlayVeth { get; init; }
}

/// <summary>One lab cluster and where its parts listen.</summary>
public sealed record LabCluster
{
    public required string Name { get; init; }

    public required uint Id { get; init; }

    public required string Context { get; init; }

    public required string ServiceCidr { get; init; }

    public required int KubeEtcdPort { get; init; }

    public required int KubeEtcdPeerPort { get; init; }

    public required int MeshEtcdPort { get; init; }

    public required int MeshEtcdPeerPort { get; init; }

    /// <summary>Plain-HTTP /health and /metrics of the two etcds.</summary>
    public required int KubeEtcdMetricsPort { get; init; }

    public required int MeshEtcdMetricsPort { get; init; }

    public required int ApiPort { get; init; }

    public required int HealthPort { get; init; }

    public required IReadOnlyList<LabNode> Nodes { get; init; }

    public string Directory(string labDirectory) => Path.Combine(labDirectory, Name);
}

/// <summary>
/// Everything a lab made, written before each thing is made, so that <c>lab down</c> can remove all of it even after a
/// crash. Saved as JSON in the lab directory.
/// </summary>
public sealed class LabState
{
    public const string FileName = "lab.json";

    public string Directory { get; set; } = string.Empty;

    public string Encryption { get; set; } = "wireguard";

    public List<LabCluster> Clusters { get; set; } = [];

    public List<LabProcess> Processes { get; set; } = [];

    public List<string> Namespaces { get; set; } = [];

    public List<string> Cgroups { get; set; } = [];

    public List<string> BpfDirectories { get; set; } = [];

    /// <summary>Set once <c>lab up</c> finished.</summary>
    public bool Ready { get; set; }

    /// <summary>Set once <c>lab demo</c> deployed its application.</summary>
    public bool DemoDeployed { get; set; }

    [JsonIgnore]
    public string Kubeconfig => Path.Combine(Directory, "kubeconfig");

    [JsonIgnore]
    public string FilePath => Path.Combine(Directory, FileName);

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static LabState? TryLoad(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var state = JsonSerializer.Deserialize<LabState>(File.ReadAllText(path), Json) ?? throw new JsonException("empty");
            state.Directory = directory;
            return state;
        }
        catch (JsonException e)
        {
            throw new CliException($"the lab state file {path} is unreadable: {e.Message}", "remove what the lab made with: clustermesh lab down --force (it sweeps by name)", e);
        }
    }

    /// <summary>Writes the state atomically (temp file, rename).</summary>
    public void Save()
    {
        System.IO.Directory.CreateDirectory(Directory);
        var temp = FilePath + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, Json));
        File.Move(temp, FilePath, overwrite: true);
    }
}
