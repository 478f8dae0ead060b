using System.Net.Sockets;

namespace Federation.Lab.DemoApp;

/// <summary>
/// HTTP clients that open a new TCP connection for every request: the mesh load-balances at connect() (eBPF connect4),
/// so a pooled connection would pin one backend.
/// </summary>
internal static class Connections
{
    public static HttpClient NewClient(TimeSpan timeout) => new(new SocketsHttpHandler
    {
        PooledConnectionLifetime = TimeSpan.Zero,
        ConnectTimeout = timeout,
        UseProxy = false,
        AllowAutoRedirect = false,
    })
    {
        Timeout = Timeout.InfiniteTimeSpan,
    };

    /// <summary>A GET that asks the server to close the connection too.</summary>
    public static HttpRequestMessage Get(Uri url)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.ConnectionClose = true;
        return request;
    }

    /// <summary>What failed, in words a person reading the demo output understands.</summary>
    public static string Describe(Exception exception, TimeSpan timeout) => exception switch
    {
        OperationCanceledException => $"timeout after {timeout.TotalMilliseconds:0} ms",
        HttpRequestException { InnerException: SocketException socket } => socket.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.TimedOut => $"timeout after {timeout.TotalMilliseconds:0} ms",
            SocketError.HostUnreachable or SocketError.NetworkUnreachable => "no route to host",
            SocketError.ConnectionReset => "connection reset",
            SocketError.HostNotFound => "host not found",
            var code => $"{code}: {socket.Message}",
        },
        HttpRequestException { InnerException: IOException io } => $"connection broken: {io.Message}",
        HttpRequestException http => http.Message,
        _ => $"{exception.GetType().Name}: {exception.Message}",
    };
}
