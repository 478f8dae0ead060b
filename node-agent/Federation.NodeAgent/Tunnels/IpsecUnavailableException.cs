namespace Federation.NodeAgent.Tunnels;

/// <summary><c>--ipsec=true</c> on a kernel without ESP: the agent refuses to start, with the kernel's reason.</summary>
internal sealed class IpsecUnavailableException(IpsecSupport support)
    : Exception($"--ipsec=true refused: {support.Reason}. Start the agent with --wireguard=true instead (WireGuard needs no kernel ESP).")
{
    public IpsecSupport Support { get; } = support;
}
