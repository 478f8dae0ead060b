using System.Net;
using System.Net.Sockets;

namespace Federation.Lab.DemoApp;

/// <summary>
/// HTTP clients that open a new TCP connection for every request: the mesh load-balances at connect() (eBPF connect4),
/// so a pooled connection would pin one backend.
/// </summary>
internal static class Connections
{
    /// <summary>
    /// A client whose connections come from <paramref name="source"/> when given: a lab pod's only address is its pod IP,
    /// and WireGuard accepts a packet from a peer only when its source is in that peer's allowed IPs (the pod CIDR).
    /// </summary>
    public static HttpClient NewClient(TimeSpan timeout, IPAddress? source = null)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero,
            ConnectTimeout = timeout,
            UseProxy = false,
            AllowAutoRedirect = false,
        };
        if (source is not null && !source.Equals(IPAddress.Any) && !source.Equals(IPAddress.IPv6Any))
        {
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(source.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
        }

        return new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

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
