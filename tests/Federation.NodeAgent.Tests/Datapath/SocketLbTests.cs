using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Federation.NodeAgent.Datapath;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>The lb4 programs attached to a real cgroup, with real clients inside it.</summary>
[Trait("Needs", "root")]
[Trait("Needs", "bpf")]
public sealed class SocketLbTests
{
    private const int ECONNREFUSED = 111;

    [Fact]
    public async Task Tcp_connect_to_the_vip_from_inside_the_cgroup_reaches_a_backend_and_getpeername_shows_the_vip()
    {
        using var bed = SocketLbTestBed.Create();
        var backend = bed.TcpBackend("b1", 1);
        bed.Writer.Apply([Tcp(bed.Vip, 80, backend)]);

        var result = await CgroupClient.RunAsync(bed.Cgroup, "tcp", bed.Vip.ToString(), "80", "3");

        Assert.Equal(3, result.GetProperty("counts").GetProperty("b1").GetInt32());
        Assert.Equal([$"{bed.Vip}:80"], Strings(result.GetProperty("peers")));
        Assert.True(bed.Datapath!.ReadCounters().Translations >= 3);

        // Outside the cgroup nothing is translated: nothing listens on the VIP itself.
        using var outside = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var error = await Assert.ThrowsAsync<SocketException>(() => outside.ConnectAsync(new IPEndPoint(bed.Vip, 80)));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }

    [Fact]
    public async Task Udp_datagram_to_the_vip_reaches_a_backend_and_the_reply_comes_from_the_vip()
    {
        using var bed = SocketLbTestBed.Create();
        var backend = bed.UdpBackend("u1", 2);
        bed.Writer.Apply([new LbService(new LbFrontend(bed.Vip, 53, LbProtocol.Udp), [backend.Backend])]);

        var result = await CgroupClient.RunAsync(bed.Cgroup, "udp", bed.Vip.ToString(), "53");

        var vip = $"{bed.Vip}:53";
        Assert.Equal("u1", result.GetProperty("data").GetString());
        Assert.Equal(vip, result.GetProperty("from").GetString());
        Assert.Equal("u1", result.GetProperty("connectedData").GetString());
        Assert.Equal(vip, result.GetProperty("connectedFrom").GetString());
        Assert.Equal(vip, result.GetProperty("connectedPeer").GetString());
        Assert.True(bed.Datapath!.ReadCounters().ReverseTranslations >= 2);
    }

    [Fact]
    public async Task Two_thousand_tcp_connections_split_evenly_over_two_backends()
    {
        using var bed = SocketLbTestBed.Create();
        var b1 = bed.TcpBackend("b1", 3);
        var b2 = bed.TcpBackend("b2", 4);
        bed.Writer.Apply([Tcp(bed.Vip, 8080, b1, b2)]);

        var result = await CgroupClient.RunAsync(bed.Cgroup, "tcp", bed.Vip.ToString(), "8080", "2000");

        Assert.Empty(result.GetProperty("errors").EnumerateObject());
        var counts = result.GetProperty("counts");
        var first = counts.GetProperty("b1").GetInt32();
        var second = counts.GetProperty("b2").GetInt32();
        Assert.Equal(2000, first + second);
        Assert.InRange(first, 900, 1100);
        Assert.InRange(second, 900, 1100);
    }

    [Fact]
    public async Task Connect_to_a_service_without_backends_fails_at_once_with_econnrefused()
    {
        using var bed = SocketLbTestBed.Create();
        // Something does listen on the VIP itself: the refusal can only come from the program.
        bed.Own(new TcpBackend("vip", bed.Vip, port: 443));
        bed.Writer.Apply([new LbService(new LbFrontend(bed.Vip, 443, LbProtocol.Tcp), [])]);

        var result = await CgroupClient.RunAsync(bed.Cgroup, "connect-error", bed.Vip.ToString(), "443");

        Assert.Equal(ECONNREFUSED, result.GetProperty("errno").GetInt32());
        Assert.InRange(result.GetProperty("seconds").GetDouble(), 0, 0.1);
        Assert.Equal(1UL, bed.Datapath!.ReadCounters().NoBackendRejects);
    }

    [Fact]
    public async Task Uninstall_detaches_the_programs_and_removes_every_pin()
    {
        using var bed = SocketLbTestBed.Create();
        var backend = bed.TcpBackend("b1", 5);
        bed.Own(new TcpBackend("vip", bed.Vip, port: 80));
        bed.Writer.Apply([Tcp(bed.Vip, 80, backend)]);
        var before = await CgroupClient.RunAsync(bed.Cgroup, "tcp", bed.Vip.ToString(), "80", "1");
        Assert.Equal(1, before.GetProperty("counts").GetProperty("b1").GetInt32());
        Assert.Equal(4, await AttachedProgramCountAsync(bed.Cgroup.Path));

        bed.Datapath!.Dispose();
        Assert.True(BpfDatapath.Uninstall(bed.Options, NullLogger<BpfDatapath>.Instance));

        Assert.False(Directory.Exists(bed.Options.PinDirectory));
        Assert.Equal(0, await AttachedProgramCountAsync(bed.Cgroup.Path));
        var after = await CgroupClient.RunAsync(bed.Cgroup, "tcp", bed.Vip.ToString(), "80", "1");
        Assert.Equal(1, after.GetProperty("counts").GetProperty("vip").GetInt32());
        Assert.False(BpfDatapath.Uninstall(bed.Options, NullLogger<BpfDatapath>.Instance));
    }

    internal static LbService Tcp(IPAddress vip, ushort port, params TcpBackend[] backends)
        => new(new LbFrontend(vip, port, LbProtocol.Tcp), [.. backends.Select(b => b.Backend)]);

    private static string[] Strings(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetString()!)];

    /// <summary>Programs attached to the cgroup itself, as bpftool sees them.</summary>
    internal static async Task<int> AttachedProgramCountAsync(string cgroup)
    {
        var start = new ProcessStartInfo("bpftool", ["-j", "cgroup", "show", cgroup]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return output.Trim().Length == 0 ? 0 : JsonDocument.Parse(output).RootElement.GetArrayLength();
    }
}
