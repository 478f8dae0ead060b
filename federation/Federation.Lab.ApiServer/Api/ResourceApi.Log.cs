namespace Federation.Lab.ApiServer.Api;

internal sealed partial class ResourceApi
{
    [LoggerMessage(1, LogLevel.Warning, "{Method} {Path} failed: etcd: {Error}")]
    private partial void LogStorageError(string method, string path, string error);

    [LoggerMessage(2, LogLevel.Error, "{Method} {Path} failed")]
    private partial void LogInternalError(string method, string path, Exception exception);

    [LoggerMessage(3, LogLevel.Debug, "Watch of {Resource} in {Namespace} from resourceVersion '{ResourceVersion}'")]
    private partial void LogWatchStarted(string resource, string @namespace, string resourceVersion);
}
