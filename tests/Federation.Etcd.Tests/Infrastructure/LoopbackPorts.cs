using System.Net;
using System.Net.Sockets;

namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>Picks free TCP ports on 127.0.0.1 by letting the kernel choose them.</summary>
internal static class LoopbackPorts
{
    /// <summary>
    /// Returns <paramref name="count"/> distinct free ports. All sockets stay bound until every
    /// port is chosen, so the kernel cannot hand out the same port twice in one call.
    /// </summary>
    public static int[] Pick(int count)
    {
        var sockets = new List<Socket>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            return [.. sockets.Select(s => ((IPEndPoint)s.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }
}
