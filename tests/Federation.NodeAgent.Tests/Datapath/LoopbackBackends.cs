using System.Net;
using System.Net.Sockets;
using System.Text;
using Federation.NodeAgent.Datapath;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>A TCP backend on a loopback address: answers every connection with its name and closes it.</summary>
internal sealed class TcpBackend : IDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _name;
    private readonly Task _loop;

    public TcpBackend(string name, IPAddress address, ushort clusterId = 1, int port = 0)
    {
        Name = name;
        _name = Encoding.ASCII.GetBytes(name);
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(address, port));
        _listener.Listen(4096);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        Backend = new LbBackend(address, (ushort)EndPoint.Port, LbProtocol.Tcp, clusterId);
        _loop = AcceptLoopAsync();
    }

    public string Name { get; }

    public IPEndPoint EndPoint { get; }

    public LbBackend Backend { get; }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            using (connection)
            {
                try
                {
                    connection.Send(_name);
                }
                catch (SocketException)
                {
                    // The client went away first; nothing to answer.
                }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Dispose();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}

/// <summary>A UDP backend on a loopback address: answers every datagram with its name.</summary>
internal sealed class UdpBackend : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _stop = new();
    private readonly byte[] _name;
    private readonly Task _loop;

    public UdpBackend(string name, IPAddress address, ushort clusterId = 1)
    {
        Name = name;
        _name = Encoding.ASCII.GetBytes(name);
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(new IPEndPoint(address, 0));
        EndPoint = (IPEndPoint)_socket.LocalEndPoint!;
        Backend = new LbBackend(address, (ushort)EndPoint.Port, LbProtocol.Udp, clusterId);
        _loop = LoopAsync();
    }

    public string Name { get; }

    public IPEndPoint EndPoint { get; }

    public LbBackend Backend { get; }

    private async Task LoopAsync()
    {
        var buffer = new byte[1500];
        while (true)
        {
            try
            {
                var received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
                await _socket.SendToAsync(_name, SocketFlags.None, received.RemoteEndPoint, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }
            }
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _loop.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
    }
}
