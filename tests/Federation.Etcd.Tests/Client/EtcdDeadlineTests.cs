using Federation.Etcd.Tests.Infrastructure;
using Federation.Etcd.Tests.TestSupport;

namespace Federation.Etcd.Tests;

[Trait("Needs", "etcd")]
public sealed class EtcdDeadlineTests
{
    [Fact]
    public async Task A_call_to_a_frozen_server_ends_at_its_deadline_with_a_typed_error()
    {
        await using var server = await EtcdServer.StartAsync();
        await using var client = Clients.For(server, o => o.RequestTimeout = TimeSpan.FromMilliseconds(500));
        await client.PutAsync("deadline/k", "v");
        var pid = server.ProcessId!.Value;

        // SIGSTOP: the connection stays up but nothing answers, the case a deadline exists for.
        Assert.True(PosixSignal.Send(pid, PosixSignal.Stop), $"etcd (pid {pid}) is gone");
        try
        {
            // Every thread stopped (state T), so nothing of etcd can answer.
            await Eventually.TrueAsync(() => ProcessState(pid) == 'T', TimeSpan.FromSeconds(5), $"etcd (pid {pid}) stopped (state T in /proc/{pid}/stat)");
            var started = DateTime.UtcNow;
            var error = await Assert.ThrowsAsync<EtcdDeadlineExceededException>(() => client.GetAsync("deadline/k"));
            Assert.Equal(GrpcStatusCode.DeadlineExceeded, error.Status);
            Assert.InRange(DateTime.UtcNow - started, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(5));
        }
        finally
        {
            PosixSignal.Send(pid, PosixSignal.Continue);
        }

        Assert.Equal("v", (await client.GetAsync("deadline/k"))!.Value.ToStringUtf8());
    }

    // The state field of /proc/PID/stat (after the parenthesised command name).
    private static char ProcessState(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        return stat[stat.LastIndexOf(')') + 2];
    }

    [Fact]
    public async Task Watches_and_keep_alives_open_on_the_live_endpoint_when_the_first_is_dead()
    {
        await using var server = await EtcdServer.StartAsync();
        var dead = new Uri($"http://127.0.0.1:{LoopbackPorts.Pick(1)[0]}");
        await using var client = Clients.For([dead, server.ClientEndpoints[0]]);
        await using var writer = Clients.For(server);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var keepAlive = client.KeepAlive((await writer.LeaseGrantAsync(3)).ID, 3);
        var start = (await writer.PutAsync("failover/marker", "m")).Header.Revision + 1;
        var watch = Task.Run(async () =>
        {
            await foreach (var response in client.WatchPrefixAsync("failover/", start, cancellationToken: cts.Token))
            {
                if (response.Events.Any(e => e.Kv.Key.ToStringUtf8() == "failover/k"))
                {
                    return;
                }
            }
        });
        await writer.PutAsync("failover/k", "v");

        await Eventually.WithinAsync(watch, TimeSpan.FromSeconds(20), "the watch through the live endpoint");
        await Eventually.TrueAsync(() => keepAlive.Renewals >= 2, TimeSpan.FromSeconds(20), "keep-alives through the live endpoint");
        Assert.False(keepAlive.IsLost);
    }
}
