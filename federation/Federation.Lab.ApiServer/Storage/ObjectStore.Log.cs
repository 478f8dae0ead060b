namespace Federation.Lab.ApiServer.Storage;

public sealed partial class ObjectStore
{
    [LoggerMessage(1, LogLevel.Debug, "Created {Resource} {Namespace}/{Name} at revision {Revision}")]
    private partial void LogCreated(string resource, string @namespace, string name, long revision);

    [LoggerMessage(2, LogLevel.Debug, "Updated {Resource} {Namespace}/{Name} at revision {Revision}")]
    private partial void LogUpdated(string resource, string @namespace, string name, long revision);

    [LoggerMessage(3, LogLevel.Debug, "Deleted {Resource} {Namespace}/{Name} at revision {Revision}")]
    private partial void LogDeleted(string resource, string @namespace, string name, long revision);

    [LoggerMessage(4, LogLevel.Information, "Watch of {Resource} after revision {Revision} expired: compacted at {CompactRevision}")]
    private partial void LogWatchExpired(string resource, long revision, long compactRevision);
}
