namespace Federation.NodeAgent.Datapath;

internal sealed partial class BpfDatapath
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Socket LB of node {Node}: reusing pinned maps and links in {PinDirectory}")]
        public static partial void Reused(ILogger logger, string node, string pinDirectory);

        [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Socket LB of node {Node}: attached {Program} to {Cgroup}, pinned in {PinDirectory}")]
        public static partial void Attached(ILogger logger, string node, string program, string cgroup, string pinDirectory);

        [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Socket LB of node {Node}: pinned link {Link} serves cgroup id {Actual}, not {Cgroup} (id {Expected}); re-attaching")]
        public static partial void LinkOnOtherCgroup(ILogger logger, string node, string link, ulong actual, string cgroup, ulong expected);

        [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Socket LB of node {Node}: replaced the program of {Link} with {Program}")]
        public static partial void Replaced(ILogger logger, string node, string program, string link);

        [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Socket LB of node {Node}: detached {Links} links and removed {PinDirectory}")]
        public static partial void Uninstalled(ILogger logger, string node, int links, string pinDirectory);
    }
}
