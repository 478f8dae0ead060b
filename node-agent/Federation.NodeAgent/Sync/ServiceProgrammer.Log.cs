namespace Federation.NodeAgent.Sync;

internal sealed partial class ServiceProgrammer
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Datapath of node {Node} installed (reused pinned links: {Reused}); {Services} frontends already programmed are kept until the first apply")]
        public static partial void Installed(ILogger logger, string node, bool reused, int services);

        [LoggerMessage(2, LogLevel.Information, "Local services and every remote cluster synced after {Seconds:0.###}s")]
        public static partial void Synced(ILogger logger, double seconds);

        [LoggerMessage(3, LogLevel.Warning, "--sync-timeout ({Seconds}s) expired while waiting for {WaitingFor}; programming what is known (stale entries of unsynced sources may be removed)")]
        public static partial void SyncTimedOut(ILogger logger, double seconds, string waitingFor);

        [LoggerMessage(4, LogLevel.Information, "First apply: {Frontends} frontends programmed, {ServicesDeleted} stale frontends and {BackendsDeleted} stale backends removed (sync timed out: {TimedOut})")]
        public static partial void FirstApply(ILogger logger, int frontends, int servicesDeleted, int backendsDeleted, bool timedOut);

        [LoggerMessage(5, LogLevel.Debug, "Applied {Frontends} frontends: {Masters} rewritten, {ServicesDeleted} removed, {BackendsAdded} backends added, {BackendsDeleted} removed")]
        public static partial void Applied(ILogger logger, int frontends, int masters, int servicesDeleted, int backendsAdded, int backendsDeleted);

        [LoggerMessage(6, LogLevel.Error, "Programming the datapath failed; retrying")]
        public static partial void ApplyFailed(ILogger logger, Exception exception);

        [LoggerMessage(7, LogLevel.Warning, "Cannot write the agent state under {Directory}: {Reason}")]
        public static partial void StateFileFailed(ILogger logger, string directory, string reason);
    }
}
