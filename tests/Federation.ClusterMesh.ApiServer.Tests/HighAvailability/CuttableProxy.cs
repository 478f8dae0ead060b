using System.Net;
using System.Net.Sockets;

namespace Federation.ClusterMesh.ApiServer.Tests.HighAvailability;

/// <summary>
/// A loopback TCP forwarder between one replica and etcd; cutting it is how a test crashes a replica as etcd
/// sees it (no resign, no lease revoke), since an in-process host cannot be SIGKILLed.
/// </summary>
internal sealed class CuttableProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _accepting;
    private volatile bool _cut;

    public CuttableProxy(Uri target)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Endpoint = new Uri($"{target.Scheme}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _accepting = AcceptAsync();
    }

    public Uri Endpoint { get; }

    /// <summary>Resets every connection and refuses new ones until <see cref="Restore"/>.</summary>
    public void Cut()
    {
        _cut = true;
        lock (_gate)
        {
            foreach (var connection in _connections)
            {
                Reset(connection);
            }

            _connections.Clear();
        }
    }

    public void Restore() => _cut = false;

    private async Task AcceptAsync()
    {
        while (true)
        {
            TcpClient inbound;
            try
            {
                inbound = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            if (_cut)
            {
                Reset(inbound);
                continue;
            }

            _ = ForwardAsync(inbound);
        }
    }

    private async Task ForwardAsync(TcpClient inbound)
    {
        var outbound = new TcpClient();
        try
        {
            await outbound.ConnectAsync(_target, _stop.Token);
            lock (_gate)
            {
                if (_cut)
                {
                    return;
                }

                _connections.Add(inbound);
                _connections.Add(outbound);
            }

            await Task.WhenAny(
                inbound.GetStream().CopyToAsync(outbound.GetStream(), _stop.Token),
                outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token));
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
        }
        finally
        {
            Reset(inbound);
            Reset(outbound);
            lock (_gate)
            {
                _connections.Remove(inbound);
                _connections.Remove(outbound);
            }
        }
    }

    /// <summary>Closes with RST, as a dropped network path looks to the peer.</summary>
    private static void Reset(TcpClient connection)
    {
        try
        {
            if (connection.Client is { } socket)
            {
                socket.LingerState = new LingerOption(true, 0);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        connection.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        await _accepting;
        _stop.Dispose();
    }
}
