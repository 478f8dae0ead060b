using Microsoft.Extensions.Logging;

namespace Federation.Kubernetes.Client;

public sealed partial class KubernetesClient
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Kubernetes request {Operation} failed ({Reason}); retry {Attempt} in {DelayMs:0}ms")]
        public static partial void Retrying(ILogger logger, string operation, string reason, double delayMs, int attempt);

        [LoggerMessage(2, LogLevel.Debug, "Kubernetes watch {Path} outlived its timeout; ending it")]
        public static partial void WatchDeadline(ILogger logger, string path);
    }
}
