using Microsoft.Extensions.Logging;

namespace Federation.Mesh.Services;

public sealed partial class GlobalServiceCache
{
    [LoggerMessage(1, LogLevel.Warning, "Service {Service}: backend {Ip} is claimed by clusters {Clusters} (overlapping pod CIDRs?)")]
    private partial void LogDuplicateBackend(string service, string ip, string clusters);

    [LoggerMessage(2, LogLevel.Debug, "Service {Service}: merged value changed ({Frontends} frontends, {Backends} backends)")]
    private partial void LogMergedServiceChanged(string service, int frontends, int backends);
}
