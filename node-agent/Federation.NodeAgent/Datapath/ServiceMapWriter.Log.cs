namespace Federation.NodeAgent.Datapath;

internal sealed partial class ServiceMapWriter
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Read back {Services} services and {Backends} backends from the pinned maps ({Stale} stale entries to clean up)")]
        public static partial void ReadBack(ILogger logger, int services, int backends, int stale);

        [LoggerMessage(EventId = 2, Level = LogLevel.Debug, Message = "Service maps: +{BackendsAdded} backends, {SlotsWritten} slots, {MastersWritten} masters, -{SlotsDeleted} slots, -{ServicesDeleted} services, -{BackendsDeleted} backends")]
        public static partial void Applied(ILogger logger, int backendsAdded, int slotsWritten, int mastersWritten, int slotsDeleted, int servicesDeleted, int backendsDeleted);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Writing the service maps failed; re-reading the programmed state from the maps")]
        public static partial void ApplyFailed(ILogger logger, Exception exception);
    }
}
