using Federation.NodeAgent.Datapath;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>The service map writer against the real pinned maps, with the programs serving a cgroup.</summary>
[Trait("Needs", "root")]
[Trait("Needs", "bpf")]
public sealed class ServiceMapWriterTests
{
    [Fact]
    public async Task Backend_changes_and_failover_apply_while_connections_are_made_without_a_failed_connection()
    {
        using var bed = SocketLbTestBed.Create();
        var a = bed.TcpBackend("a", 11);
        var b = bed.TcpBackend("b", 12);
        var c = bed.TcpBackend("c", 13);
        var d = bed.TcpBackend("d", 14);
        bed.Writer.Apply([SocketLbTests.Tcp(bed.Vip, 80, a, b)]);
        var ids = bed.Writer.BackendIds;
        Assert.Equal(1u, ids[a.Backend]);
        Assert.Equal(2u, ids[b.Backend]);

        var stop = Path.Combine(Path.GetTempPath(), $"federation-lb-stop-{Guid.NewGuid():N}");
        using var client = CgroupClient.Start(bed.Cgroup, "loop", bed.Vip.ToString(), "80", stop);
        try
        {
            await ConvergedAsync(client, "a", "b");

            // Scale out: new backend, new slot, then the master's count.
            var change = bed.Writer.Apply([SocketLbTests.Tcp(bed.Vip, 80, a, b, c)]);
            Assert.Equal(new ServiceMapChange(1, 1, 1, 0, 0, 0), change);
            await ConvergedAsync(client, "a", "b", "c");

            // Failover: one service's slots and master rewritten, a and b become orphans.
            change = bed.Writer.Apply([SocketLbTests.Tcp(bed.Vip, 80, c)]);
            Assert.Equal(new ServiceMapChange(0, 1, 1, 2, 0, 2), change);
            await ConvergedAsync(client, "c");

            // The lowest freed id (a's) is used again.
            change = bed.Writer.Apply([SocketLbTests.Tcp(bed.Vip, 80, c, d)]);
            Assert.Equal(new ServiceMapChange(1, 1, 1, 0, 0, 0), change);
            await ConvergedAsync(client, "c", "d");
            Assert.Equal(1u, bed.Writer.BackendIds[d.Backend]);

            // Enough connections for the checks below, however fast the changes converged.
            await Eventually.TrueAsync(() => client.Lines.Count > 200, TimeSpan.FromSeconds(20), "more than 200 connections");
        }
        finally
        {
            File.WriteAllText(stop, "");
        }

        try
        {
            await client.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            File.Delete(stop);
        }

        var lines = client.Lines;
        Assert.True(lines.Count > 200, $"only {lines.Count} connections were made");
        Assert.DoesNotContain(lines, l => l.StartsWith("error", StringComparison.Ordinal));
        Assert.Equal(0UL, bed.Datapath!.ReadCounters().BackendMisses);

        // Only the programmed backends are left in the backend map.
        var rows = bed.Writer.Dump();
        Assert.Equal(["", c.Backend.ToString(), d.Backend.ToString()], rows.Select(r => r.Backend));
        Assert.Equal([0u, 3u, 1u], rows.Select(r => r.BackendId));
        Assert.Equal(2, bed.Datapath.Maps.Backends.Keys<uint>().Count);
    }

    [Fact]
    public async Task A_new_writer_on_the_same_pins_reads_back_the_programmed_state_and_nothing_is_reattached()
    {
        using var bed = SocketLbTestBed.Create();
        var b1 = bed.TcpBackend("b1", 21);
        var b2 = bed.TcpBackend("b2", 22);
        var u1 = bed.UdpBackend("u1", 23);
        LbService[] desired =
        [
            SocketLbTests.Tcp(bed.Vip, 80, b1, b2),
            new(new LbFrontend(bed.Vip, 53, LbProtocol.Udp), [u1.Backend]),
            new(new LbFrontend(bed.Vip, 443, LbProtocol.Tcp), []),
        ];
        bed.Writer.Apply(desired);
        var programmed = bed.Writer.ProgrammedServices;
        var backendIds = bed.Writer.BackendIds;
        var table = ServiceMapWriter.FormatTable(bed.Writer.Dump());
        var links = bed.Datapath!.LinkIds();
        Assert.False(bed.Datapath.ReusedLinks);

        bed.Reinstall();

        Assert.True(bed.Datapath.ReusedLinks);
        Assert.Equal(links, bed.Datapath.LinkIds());
        Assert.Equal(programmed, bed.Writer.ProgrammedServices);
        Assert.Equal(backendIds, bed.Writer.BackendIds);
        Assert.Equal(table, ServiceMapWriter.FormatTable(bed.Writer.Dump()));
        Assert.True(bed.Writer.Apply(desired).IsEmpty);
        var result = await CgroupClient.RunAsync(bed.Cgroup, "tcp", bed.Vip.ToString(), "80", "20");
        Assert.Empty(result.GetProperty("errors").EnumerateObject());
    }

    [Fact]
    public async Task Upgrading_the_programs_replaces_them_behind_the_same_links_without_a_failed_connection()
    {
        using var bed = SocketLbTestBed.Create();
        var a = bed.TcpBackend("a", 41);
        var b = bed.TcpBackend("b", 42);
        bed.Writer.Apply([SocketLbTests.Tcp(bed.Vip, 80, a, b)]);
        var programmed = bed.Writer.ProgrammedServices;
        var links = bed.Datapath!.LinkIds();
        var programs = bed.Datapath.ProgramIds();

        var stop = Path.Combine(Path.GetTempPath(), $"federation-lb-stop-{Guid.NewGuid():N}");
        using var client = CgroupClient.Start(bed.Cgroup, "loop", bed.Vip.ToString(), "80", stop);
        try
        {
            await ConvergedAsync(client, "a", "b");
            var before = client.Lines.Count;

            bed.Upgrade();

            Assert.Equal(links, bed.Datapath.LinkIds());
            Assert.All(bed.Datapath.ProgramIds(), p => Assert.NotEqual(programs[p.Key], p.Value));
            Assert.Equal(programmed, bed.Writer.ProgrammedServices);
            await Eventually.TrueAsync(() => client.Lines.Count > before + 200, TimeSpan.FromSeconds(20), "200 connections after the upgrade");
        }
        finally
        {
            File.WriteAllText(stop, "");
        }

        try
        {
            await client.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            File.Delete(stop);
        }
        Assert.DoesNotContain(client.Lines, l => !l.Equals("a", StringComparison.Ordinal) && !l.Equals("b", StringComparison.Ordinal));
        Assert.Equal(4, await SocketLbTests.AttachedProgramCountAsync(bed.Cgroup.Path));
    }

    [Fact]
    public void Leftovers_of_an_interrupted_apply_are_removed_by_the_next_writer()
    {
        using var bed = SocketLbTestBed.Create();
        var b1 = bed.TcpBackend("b1", 31);
        LbService[] desired = [SocketLbTests.Tcp(bed.Vip, 80, b1)];
        bed.Writer.Apply(desired);
        var maps = bed.Datapath!.Maps;

        // As if an agent died between writing slots/backends and the master of a change.
        var vip = NetOrder.Address(bed.Vip);
        var port = NetOrder.Port(80);
        maps.Backends.Update(7u, new LbBackendValue { Addr = NetOrder.Address(b1.Backend.Address), Port = NetOrder.Port(9), Proto = 6, ClusterId = 2 });
        maps.Services.Update(new LbServiceKey { Vip = vip, Port = port, Slot = 2, Proto = 6 }, new LbServiceValue { BackendId = 7 });
        maps.Services.Update(new LbServiceKey { Vip = vip, Port = NetOrder.Port(81), Slot = 1, Proto = 6 }, new LbServiceValue { BackendId = 7 });

        var writer = new ServiceMapWriter(maps, NullLogger<ServiceMapWriter>.Instance);
        Assert.Equal(bed.Writer.ProgrammedServices, writer.ProgrammedServices);
        var change = writer.Apply(desired);

        Assert.Equal(new ServiceMapChange(0, 0, 0, 2, 0, 1), change);
        Assert.Equal([0, 1], writer.Dump().Select(r => r.Slot));
        Assert.Equal([1u], maps.Backends.Keys<uint>());
        // Id 7 is free again, and so are the ids below it that were never used.
        var next = writer.Apply([SocketLbTests.Tcp(bed.Vip, 80, b1, bed.TcpBackend("b2", 32))]);
        Assert.Equal(1, next.BackendsAdded);
        Assert.Equal(2u, writer.BackendIds.Values.Max());
    }

    /// <summary>Waits until the last 60 connections all went to, and covered, exactly these backends.</summary>
    private static Task ConvergedAsync(CgroupClient client, params string[] backends) => Eventually.TrueAsync(
        () =>
        {
            var lines = client.Lines;
            if (lines.Count < 60)
            {
                return false;
            }

            var recent = lines.Skip(lines.Count - 60).ToList();
            return recent.All(backends.Contains) && backends.All(recent.Contains);
        },
        TimeSpan.FromSeconds(20),
        $"connections to go to exactly {string.Join(", ", backends)}");
}
