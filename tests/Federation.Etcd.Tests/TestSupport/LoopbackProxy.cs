using System.Net;
using System.Net.Sockets;

namespace Federation.Etcd.Tests.TestSupport;

/// <summary>
/// A TCP forwarder on loopback that a test can cut, to produce a network partition between a client
/// and a real etcd (something a single local etcd cannot do by itself).
/// </summary>
internal sealed class LoopbackProxy : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<TcpClient> _connections = [];
    private readonly Task _acceptLoop;
    private volatile bool _blocked;

    public LoopbackProxy(Uri target)
    {
        _target = new IPEndPoint(IPAddress.Parse(target.Host), target.Port);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        Endpoint = new Uri($"{target.Scheme}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");
        _acceptLoop = AcceptAsync();
    }

    public Uri Endpoint { get; }

    /// <summary>Drops every open connection and refuses new ones until <see cref="Unblock"/>.</summary>
    public void Block()
    {
        _blocked = true;
        lock (_gate)
        {
            foreach (var connection in _connections)
            {
                Reset(connection);
            }

            _connections.Clear();
        }
    }

    public void Unblock() => _blocked = false;

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
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

            if (_blocked)
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
                // Block() may have run while this connection was being set up: it must not survive it.
                if (_blocked)
                {
                    Reset(inbound);
                    Reset(outbound);
                    return;
                }

                _connections.Add(inbound);
                _connections.Add(outbound);
            }

            var a = inbound.GetStream().CopyToAsync(outbound.GetStream(), _stop.Token);
            var b = outbound.GetStream().CopyToAsync(inbound.GetStream(), _stop.Token);
            await Task.WhenAny(a, b);
        }
        catch (Exception) when (_stop.IsCancellationRequested || _blocked)
        {
        }
        catch (IOException)
        {
        }
        catch (SocketException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        finally
        {
            inbound.Dispose();
            outbound.Dispose();
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
        if (connection.Client is { } socket)
        {
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }

        connection.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Block();
        await _acceptLoop;
        _stop.Dispose();
    }
}
