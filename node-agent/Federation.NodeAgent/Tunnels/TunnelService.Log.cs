namespace Federation.NodeAgent.Tunnels;

internal sealed partial class TunnelService
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "WireGuard key {What} ({Path}), public key {PublicKey}")]
        public static partial void Key(ILogger logger, string what, string path, string publicKey);

        [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Publishing the WireGuard public key on node {Node} failed ({Error}); retrying in {Seconds:0.#}s")]
        public static partial void PublishRetry(ILogger logger, string node, string error, double seconds);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Node {Node}: annotation {Annotation}={PublicKey} published")]
        public static partial void Published(ILogger logger, string node, string annotation, string publicKey);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "WireGuard {Interface}: every remote cluster's nodes synced after {Seconds:0.##}s; removing the peers and routes no node claims")]
        public static partial void RemoteNodesSynced(ILogger logger, string @interface, double seconds);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "WireGuard {Interface}: agent stopping; the interface, its peers and routes stay")]
        public static partial void Stopped(ILogger logger, string @interface);

        [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Node {Node}: annotation {Annotation} is {Value}, not this node's key (Node recreated or annotation changed); publishing it again")]
        public static partial void AnnotationLost(ILogger logger, string node, string annotation, string value);

        [LoggerMessage(EventId = 7, Level = LogLevel.Information, Message = "Node {Node} does not exist (yet); its WireGuard key is published when the Node appears")]
        public static partial void NodeMissing(ILogger logger, string node);
    }
}
