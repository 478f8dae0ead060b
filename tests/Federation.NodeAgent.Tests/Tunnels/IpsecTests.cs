using Federation.NodeAgent.Processes;
using Federation.NodeAgent.Tunnels;
using Xunit.Abstractions;

namespace Federation.NodeAgent.Tests.Tunnels;

[Collection(IpsecDetection.Collection)] // one probe at a time in this process: each checks that its probe namespace is gone
public sealed class IpsecTests(ITestOutputHelper output)
{
    private const string KeyLine = "3 rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128";
    private static readonly IpsecNode A = new("a", "192.168.77.1", ["10.101.1.0/24"]);
    private static readonly IpsecNode B = new("b", "192.168.77.2", ["10.102.1.0/24"]);
    private static readonly IpsecNode C = new("c", "192.168.77.3", ["10.102.2.0/24"]);
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>This machine's kernel has xfrm but no ESP (DESIGN §8), so an end-to-end IPsec test cannot run here;
    /// what can be checked is that the detection says so, plainly.</summary>
    [Fact]
    [Trait("Needs", "root")]
    [Trait("Needs", "netns")]
    public async Task Detection_reports_that_this_kernel_has_no_esp_with_the_kernels_message()
    {
        var support = await IpsecSupport.DetectAsync();

        output.WriteLine($"IPsec available: {support.Available}; {support.Reason}");
        Assert.False(support.Available);
        Assert.Contains("no ESP", support.Reason, StringComparison.Ordinal);
        Assert.Contains("use WireGuard", support.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(Directory.GetFiles("/var/run/netns"), n => n.Contains($"fedipsec-probe-{Environment.ProcessId}-", StringComparison.Ordinal));
    }

    [Fact]
    public void The_key_file_gives_the_spi_and_algorithm_arguments()
    {
        var aead = IpsecKeyFile.Parse(KeyLine + "\n");
        Assert.Equal(3, aead.Spi);
        Assert.Equal(["aead", "rfc4106(gcm(aes))", "0x0102030405060708090a0b0c0d0e0f1011121314", "128"], aead.AlgorithmArguments.ToArray());

        var cbc = IpsecKeyFile.Parse("1+ hmac(sha256) 0x00112233445566778899aabbccddeeff cbc(aes) 0x00112233445566778899aabbccddeeff");
        Assert.Equal(1, cbc.Spi);
        Assert.Equal(["auth", "hmac(sha256)", "0x00112233445566778899aabbccddeeff", "enc", "cbc(aes)", "0x00112233445566778899aabbccddeeff"], cbc.AlgorithmArguments.ToArray());
    }

    [Theory]
    [InlineData("3 rfc4106(gcm(aes)) 0x0102", "4 fields")]
    [InlineData("16 rfc4106(gcm(aes)) 0x0102 128", "SPI")]
    [InlineData("0 rfc4106(gcm(aes)) 0x0102 128", "SPI")]
    [InlineData("3 rfc4106(gcm(aes)) 0102zz 128", "AEAD key")]
    [InlineData("3 rfc4106(gcm(aes)) 0x0102 100", "ICV")]
    public void A_bad_key_line_is_a_format_error_that_names_the_field(string line, string named)
    {
        var error = Assert.Throws<FormatException>(() => IpsecKeyFile.Parse(line));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("0102", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Each_node_pair_gets_states_both_ways_and_out_in_fwd_policies()
    {
        var config = IpsecConfig.Generate(A, [C, B], IpsecKeyRing.Of(IpsecKeyFile.Parse(KeyLine)), T0);

        var key = "aead 'rfc4106(gcm(aes))' 0x0102030405060708090a0b0c0d0e0f1011121314 128";
        Assert.Equal(
            [
                $"ip xfrm state add src 192.168.77.1 dst 192.168.77.2 proto esp spi 0x3 reqid 1 mode tunnel {key}",
                $"ip xfrm state add src 192.168.77.2 dst 192.168.77.1 proto esp spi 0x3 reqid 1 mode tunnel {key}",
                $"ip xfrm state add src 192.168.77.1 dst 192.168.77.3 proto esp spi 0x3 reqid 1 mode tunnel {key}",
                $"ip xfrm state add src 192.168.77.3 dst 192.168.77.1 proto esp spi 0x3 reqid 1 mode tunnel {key}",
                "ip xfrm policy add src 10.101.1.0/24 dst 10.102.1.0/24 dir out tmpl src 192.168.77.1 dst 192.168.77.2 proto esp spi 0x3 reqid 1 mode tunnel",
                "ip xfrm policy add src 10.102.1.0/24 dst 10.101.1.0/24 dir in tmpl src 192.168.77.2 dst 192.168.77.1 proto esp reqid 1 mode tunnel",
                "ip xfrm policy add src 10.102.1.0/24 dst 10.101.1.0/24 dir fwd tmpl src 192.168.77.2 dst 192.168.77.1 proto esp reqid 1 mode tunnel",
                "ip xfrm policy add src 10.101.1.0/24 dst 10.102.2.0/24 dir out tmpl src 192.168.77.1 dst 192.168.77.3 proto esp spi 0x3 reqid 1 mode tunnel",
                "ip xfrm policy add src 10.102.2.0/24 dst 10.101.1.0/24 dir in tmpl src 192.168.77.3 dst 192.168.77.1 proto esp reqid 1 mode tunnel",
                "ip xfrm policy add src 10.102.2.0/24 dst 10.101.1.0/24 dir fwd tmpl src 192.168.77.3 dst 192.168.77.1 proto esp reqid 1 mode tunnel",
            ],
            config.Commands.Select(c => ProcessRunner.FormatCommandLine("ip", c)));
    }

    [Fact]
    public void Key_rotation_bumps_the_spi_and_keeps_the_old_states_for_the_grace_period_only()
    {
        var old = IpsecKeyFile.Parse(KeyLine);
        var next = IpsecKeyFile.Parse("4 rfc4106(gcm(aes)) 0xa1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4 128");
        var ring = IpsecKeyRing.Of(old).Rotate(next, T0, TimeSpan.FromMinutes(5));

        var during = IpsecConfig.Generate(A, [B], ring, T0 + TimeSpan.FromMinutes(4));
        Assert.Equal([4, 4, 3, 3], during.States.Select(s => (int)s.Spi));
        Assert.Equal([(byte?)4], during.Policies.Where(p => p.Direction == "out").Select(p => p.Spi));
        Assert.All(during.Policies.Where(p => p.Direction != "out"), p => Assert.Null(p.Spi));

        var after = IpsecConfig.Generate(A, [B], ring, T0 + TimeSpan.FromMinutes(5));
        Assert.Equal([4, 4], after.States.Select(s => (int)s.Spi));
        Assert.Equal(during.Policies.ToArray(), after.Policies.ToArray());

        Assert.Same(ring, ring.Rotate(next, T0, TimeSpan.FromMinutes(5)));
        var sameSpi = next with { AlgorithmArguments = old.AlgorithmArguments };
        Assert.Throws<ArgumentException>(() => ring.Rotate(sameSpi, T0, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public void The_agent_takes_its_own_ipsec_endpoint_from_its_node_and_remote_ones_from_node_records_ipv4_only()
    {
        Assert.Null(IpsecService.LocalNode(null));
        var node = new Federation.Kubernetes.Models.Node
        {
            Metadata = new Federation.Kubernetes.Models.ObjectMeta { Name = "a" },
            Spec = new Federation.Kubernetes.Models.NodeSpec { PodCIDRs = ["10.101.1.0/24", "fd00:101::/64"] },
            Status = new Federation.Kubernetes.Models.NodeStatus
            {
                Addresses = [new() { Type = "Hostname", Address = "a" }, new() { Type = "InternalIP", Address = "fd00::1" }, new() { Type = "InternalIP", Address = "192.168.77.1" }],
            },
        };
        var local = IpsecService.LocalNode(node)!;
        Assert.Equal(("a", "192.168.77.1"), (local.Name, local.UnderlayIP));
        Assert.Equal(["10.101.1.0/24"], local.PodCidrs.ToArray());
        Assert.Null(IpsecService.LocalNode(node with { Status = null }));

        var record = new Federation.Etcd.ClusterMesh.Node
        {
            Name = "b", Cluster = "cluster2", ClusterId = 2,
            IPAddresses = [new Federation.Etcd.ClusterMesh.NodeAddress { Type = "InternalIP", IP = "192.168.77.2" }],
            IPv4AllocCidr = Federation.Etcd.ClusterMesh.NodeCidr.Create("10.102.1.0", 24),
        };
        var remote = IpsecService.RemoteNode("cluster2", record)!;
        Assert.Equal(("cluster2/b", "192.168.77.2"), (remote.Name, remote.UnderlayIP));
        Assert.Equal(["10.102.1.0/24"], remote.PodCidrs.ToArray());
        Assert.Null(IpsecService.RemoteNode("cluster2", record with { IPAddresses = [] }));
    }
}

/// <summary>The tests that run the ESP probe (it leaves a namespace named after the process while it runs).</summary>
internal static class IpsecDetection
{
    public const string Collection = "IPsec detection";
}
