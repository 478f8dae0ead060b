using System.ComponentModel.DataAnnotations;

namespace Federation.NodeAgent.Datapath;

/// <summary>Where the socket load balancer of one node is pinned and which cgroup it serves.</summary>
internal sealed record BpfDatapathOptions
{
    /// <summary>The node name; the pins live in <c>BpfFsRoot/NodeName/</c>.</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9][A-Za-z0-9._-]*$", ErrorMessage = "NodeName must be a plain name (letters, digits, '.', '_', '-')")]
    public required string NodeName { get; init; }

    /// <summary>The cgroup v2 directory whose sockets are load-balanced (and all cgroups below it).</summary>
    [Required]
    public required string CgroupPath { get; init; }

    public string BpfFsRoot { get; init; } = "/sys/fs/bpf/federation";

    /// <summary>The compiled BPF object; by default the one the build puts beside the assembly.</summary>
    public string ObjectPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "bpf", "lb4.o");

    public string PinDirectory => Path.Combine(BpfFsRoot, NodeName);
}
