using System.ComponentModel.DataAnnotations;

namespace Federation.NodeAgent.Tunnels;

/// <summary>The node's WireGuard interface.</summary>
internal sealed class WireGuardDeviceOptions
{
    public const int DefaultListenPort = 51871;

    /// <summary>WireGuard adds up to 80 bytes (IPv6 outer header, UDP, WireGuard header and tag).</summary>
    public const int Overhead = 80;

    /// <summary>
    /// The interface name (at most 15 characters). With wireguard-go the UAPI socket
    /// <c>/var/run/wireguard/&lt;name&gt;.sock</c> is shared by every namespace of the host, so nodes that share a
    /// host (the lab) need host-unique names.
    /// </summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9_.-]{1,15}$", ErrorMessage = "InterfaceName must be 1-15 characters of A-Z a-z 0-9 _ . -")]
    public string InterfaceName { get; set; } = "cilium_wg0";

    [Range(1, 65535)]
    public int ListenPort { get; set; } = DefaultListenPort;

    /// <summary>The node's network namespace (a name under /var/run/netns), or null for the agent's own.</summary>
    public string? NetworkNamespace { get; set; }

    /// <summary>The underlay MTU; when null it is read from <see cref="UnderlayInterface"/>, else 1500.</summary>
    [Range(1280, 65535)]
    public int? UnderlayMtu { get; set; }

    /// <summary>The interface that carries the encrypted packets, whose MTU sets the tunnel's.</summary>
    public string? UnderlayInterface { get; set; }

    /// <summary>Try the kernel module first (<c>ip link add type wireguard</c>); false forces wireguard-go.</summary>
    public bool UseKernelModule { get; set; } = true;

    public string WireGuardGoPath { get; set; } = "wireguard-go";

    public string WgPath { get; set; } = "wg";

    public string IpPath { get; set; } = "ip";
}
