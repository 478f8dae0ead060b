using Federation.Etcd.Tests.Infrastructure;

namespace Federation.Etcd.Tests.TestSupport;

/// <summary>For test classes that compact, partition or otherwise disturb etcd: each test gets its own server and client.</summary>
public abstract class OwnEtcdTestBase : IAsyncLifetime
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    protected CancellationTokenSource Cts { get; } = new(TimeSpan.FromSeconds(120));

    protected EtcdServer Server { get; private set; } = null!;

    protected EtcdClient Client { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await EtcdServer.StartAsync();
        Client = Clients.For(Server);
    }

    public async Task DisposeAsync()
    {
        await Cts.CancelAsync();
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        Cts.Dispose();
    }
}
