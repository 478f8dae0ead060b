
namespace Federation.NodeAgent.Tunnels;

internal sealed partial class WireGuardDevice
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "WireGuard {Interface}: created with {Implementation} in namespace {Namespace}, port {Port}, MTU {Mtu}, public key {PublicKey}")]
        public static partial void Created(ILogger logger, string @interface, string implementation, string @namespace, int port, int mtu, string publicKey);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "WireGuard {Interface}: reusing the existing {Implementation} interface in namespace {Namespace}, port {Port}, MTU {Mtu}")]
        public static partial void Reused(ILogger logger, string @interface, string implementation, string @namespace, int port, int mtu);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "WireGuard {Interface}: no kernel WireGuard ({Reason}); starting wireguard-go")]
        public static partial void NoKernelModule(ILogger logger, string @interface, string reason);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "WireGuard {Interface}: removed from namespace {Namespace}")]
        public static partial void Removed(ILogger logger, string @interface, string @namespace);

        [LoggerMessage(EventId = 5, Level = LogLevel.Warning, Message = "WireGuard {Interface}: wireguard-go (pid {Pid}) outlived its interface; killed it")]
        public static partial void Killed(ILogger logger, string @interface, int pid);

        [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "WireGuard {Interface}: underlay MTU unknown (no UnderlayMtu or UnderlayInterface); assuming 1500")]
        public static partial void DefaultMtu(ILogger logger, string @interface);
    }
}
