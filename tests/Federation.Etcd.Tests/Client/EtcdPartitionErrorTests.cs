using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

[Trait("Needs", "etcd")]
public sealed class EtcdPartitionErrorTests
{
    [Fact]
    public async Task Calls_cut_off_by_a_partition_fail_only_with_typed_unavailable_errors()
    {
        await using var server = await EtcdServer.StartAsync();
        await using var proxy = new LoopbackProxy(server.ClientEndpoints[0]);
        await using var client = Clients.For([proxy.Endpoint], o => o.RequestTimeout = TimeSpan.FromSeconds(1));
        var failures = new List<Exception>();

        // Cut live connections again and again: resets arrive at every stage of a call.
        for (var round = 0; round < 30; round++)
        {
            await client.PutAsync("partition/k", "v");
            proxy.Block();
            for (var i = 0; i < 5; i++)
            {
                try
                {
                    await client.LeaseGrantAsync(60);
                }
                catch (Exception ex)
                {
                    failures.Add(ex);
                }
            }

            proxy.Unblock();
        }

        Assert.Equal(150, failures.Count);
        Assert.All(failures, ex => Assert.True(ex is EtcdUnavailableException or EtcdDeadlineExceededException, $"{ex.GetType().Name}: {ex.Message}"));
    }
}
