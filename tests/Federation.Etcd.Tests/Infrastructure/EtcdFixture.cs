namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>
/// One plaintext etcd shared by the test classes of the <see cref="EtcdCollection"/>. Tests that
/// restart the server or need TLS start their own <see cref="EtcdServer"/> instead; tests sharing
/// this one use unique key prefixes.
/// </summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    private EtcdServer? _server;

    public EtcdServer Server => _server ?? throw new InvalidOperationException("The etcd fixture is not initialised.");

    public async Task InitializeAsync() => _server = await EtcdServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
