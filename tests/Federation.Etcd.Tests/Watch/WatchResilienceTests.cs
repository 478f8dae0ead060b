using Federation.Etcd.Protocol;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

[Trait("Needs", "etcd")]
public sealed class WatchResilienceTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Watch_survives_an_etcd_restart_without_lost_or_duplicated_events(bool kill)
    {
        await using var server = await EtcdServer.StartAsync();
        await using var writer = Clients.For(server);
        await using var watcher = Clients.For(server);
        var prefix = Clients.UniquePrefix("restart");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var start = (await writer.PutAsync("marker", "m")).Header.Revision + 1;

        var received = new List<Event>();
        var gotFirst = new TaskCompletionSource();
        var collector = Task.Run(async () =>
        {
            await foreach (var response in watcher.WatchPrefixAsync(prefix, start, cancellationToken: cts.Token))
            {
                received.AddRange(response.Events);
                gotFirst.TrySetResult();
                if (received.Count >= 200)
                {
                    return;
                }
            }
        });

        for (var i = 0; i < 100; i++)
        {
            await writer.PutAsync($"{prefix}{i:D3}", $"v{i}");
        }

        await Eventually.WithinAsync(gotFirst.Task, TimeSpan.FromSeconds(20), "the first watch event");
        // Stop while the watcher is likely still behind: it must resume exactly where it was.
        await server.StopAsync(kill);
        await server.StartAgainAsync();

        for (var i = 100; i < 200; i++)
        {
            await writer.PutAsync($"{prefix}{i:D3}", $"v{i}");
        }

        await Eventually.WithinAsync(collector, TimeSpan.FromSeconds(60), "200 events through the restart");
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"{prefix}{i:D3}"), received.Select(e => e.Kv.Key.ToStringUtf8()));
        Assert.True(received.Zip(received.Skip(1)).All(p => p.First.Kv.ModRevision < p.Second.Kv.ModRevision), "revisions strictly increase");
        Assert.True(watcher.WatchStreamsOpened >= 2, "the watch stream was re-established");
    }

    [Fact]
    public async Task Watch_resumes_after_a_network_partition_from_the_last_delivered_revision()
    {
        await using var server = await EtcdServer.StartAsync();
        await using var proxy = new LoopbackProxy(server.ClientEndpoints[0]);
        await using var writer = Clients.For(server);
        await using var watcher = Clients.For([proxy.Endpoint]);
        var prefix = Clients.UniquePrefix("partition");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var received = new List<string>();
        var firstBatch = new TaskCompletionSource();
        var collector = Task.Run(async () =>
        {
            await foreach (var response in watcher.WatchPrefixAsync(prefix, 1, cancellationToken: cts.Token))
            {
                received.AddRange(response.Events.Select(e => e.Kv.Key.ToStringUtf8()));
                if (received.Count >= 10)
                {
                    firstBatch.TrySetResult();
                }

                if (received.Count >= 30)
                {
                    return;
                }
            }
        });

        for (var i = 0; i < 10; i++)
        {
            await writer.PutAsync($"{prefix}{i:D2}", "v");
        }

        await Eventually.WithinAsync(firstBatch.Task, TimeSpan.FromSeconds(20), "events before the partition");
        proxy.Block();
        for (var i = 10; i < 30; i++)
        {
            await writer.PutAsync($"{prefix}{i:D2}", "v");
        }

        proxy.Unblock();
        await Eventually.WithinAsync(collector, TimeSpan.FromSeconds(30), "events missed during the partition");
        Assert.Equal(Enumerable.Range(0, 30).Select(i => $"{prefix}{i:D2}"), received);
    }
}
