namespace Federation.NodeAgent.Services;

internal sealed partial class LocalServiceSource
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Service {Service}: {Problem}")]
        public static partial void AnnotationProblem(ILogger logger, string service, string problem);

        [LoggerMessage(2, LogLevel.Error, "Service {Service}: building the local service failed")]
        public static partial void ReconcileFailed(ILogger logger, string service, Exception exception);
    }
}
