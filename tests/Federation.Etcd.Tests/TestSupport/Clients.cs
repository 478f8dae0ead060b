using Federation.Etcd.Tests.Infrastructure;

namespace Federation.Etcd.Tests.TestSupport;

internal static class Clients
{
    /// <summary>A client for a test server; quick reconnects so tests do not wait on backoff.</summary>
    public static EtcdClient For(EtcdServer server, Action<EtcdClientOptions>? configure = null)
        => For(server.ClientEndpoints, configure);

    public static EtcdClient For(IEnumerable<Uri> endpoints, Action<EtcdClientOptions>? configure = null)
    {
        var options = new EtcdClientOptions
        {
            Endpoints = [.. endpoints],
            RequestTimeout = TimeSpan.FromSeconds(10),
            DialTimeout = TimeSpan.FromSeconds(2),
            ReconnectMinDelay = TimeSpan.FromMilliseconds(50),
            ReconnectMaxDelay = TimeSpan.FromMilliseconds(500),
            KeepAlivePingDelay = TimeSpan.FromSeconds(1),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(1),
        };
        configure?.Invoke(options);
        return EtcdClient.Create(options);
    }

    /// <summary>A key prefix no other test uses.</summary>
    public static string UniquePrefix(string name) => $"test/{name}/{Guid.NewGuid():N}/";
}
