
namespace Federation.NodeAgent.Tunnels;

internal sealed partial class WireGuardPeerReconciler
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "WireGuard {Interface}: found {Peers} peers and {Routes} routes of a previous run; kept until the remote nodes are synced")]
        public static partial void Adopted(ILogger logger, string @interface, int peers, int routes);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "WireGuard {Interface}: skipped node {Node} ({Reason}): {Detail}")]
        public static partial void Skipped(ILogger logger, string @interface, string node, string reason, string detail);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "WireGuard {Interface}: {Change} peer of node {Node}: key {PublicKey}, endpoint {Endpoint}, allowed IPs {AllowedIps}")]
        public static partial void Applied(ILogger logger, string @interface, string node, string change, string publicKey, string endpoint, string allowedIps);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "WireGuard {Interface}: removed peer of node {Node} (key {PublicKey}) and its routes")]
        public static partial void Removed(ILogger logger, string @interface, string node, string publicKey);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "WireGuard {Interface}: remote nodes synced: {Peers} peers, {Removed} stale peers and routes removed")]
        public static partial void Synced(ILogger logger, string @interface, int peers, int removed);
    }
}
