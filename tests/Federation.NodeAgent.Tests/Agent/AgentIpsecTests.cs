using Federation.NodeAgent.Tests.Tunnels;
using Federation.NodeAgent.Tunnels;
using Xunit.Abstractions;

namespace Federation.NodeAgent.Tests.Agent;

/// <summary>
/// <c>--ipsec=true</c> as a user starts it: the node-agent executable, a valid key file. This machine's kernel has no ESP
/// (DESIGN §8), so the agent must refuse with the kernel's reason, and the IPsec end-to-end test cannot run here: the
/// detection's reason is printed so the log says why.
/// </summary>
[Trait("Needs", "root")]
[Trait("Needs", "netns")]
[Collection(IpsecDetection.Collection)]
public sealed class AgentIpsecTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("federation-agent-ipsec-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task The_agent_refuses_ipsec_on_a_kernel_without_esp_naming_the_reason_and_wireguard()
    {
        var support = await IpsecSupport.DetectAsync();
        output.WriteLine($"IPsec end-to-end test not run on this machine: ESP available = {support.Available}; detection: {support.Reason}");
        Assert.False(
            support.Available,
            $"This kernel has ESP ({support.Reason}): the agent would run IPsec here, so the IPsec end-to-end test (two nodes, traffic through "
            + "xfrm ESP states, key rotation) has to be written for this machine; this test only covers kernels without ESP.");

        var keyFile = Path.Combine(_directory, "keys");
        await File.WriteAllTextAsync(keyFile, "3 rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128\n");
        var (exit, stdout, stderr) = await AgentEnvironment.RunAgentProcessAsync(
            "--node-name", "ipsec-test", "--cluster-name", AgentEnvironment.ClusterName, "--cluster-id", "1", "--cgroup", "/sys/fs/cgroup/unified",
            "--remote-source", "direct", "--clustermesh-config", Path.Combine(_directory, "clustermesh"), "--state-dir", Path.Combine(_directory, "state"),
            "--bpffs-root", $"/sys/fs/bpf/federation-ipsec-test-{Environment.ProcessId}", "--health-listen", "127.0.0.1:0",
            "--ipsec=true", "--ipsec-key-file", keyFile);
        output.WriteLine($"node-agent --ipsec=true exited with {exit}; stderr: {stderr.Trim()}");

        Assert.Equal(1, exit);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("error: --ipsec=true refused: the kernel has no ESP", line, StringComparison.Ordinal);
        Assert.Contains(support.Reason, line, StringComparison.Ordinal);
        Assert.Contains("--wireguard=true instead", line, StringComparison.Ordinal);
        Assert.Empty(stdout);

        // Nothing of the agent was set up: no pins, and no probe namespace of a process that has exited (the agent's).
        Assert.False(Directory.Exists($"/sys/fs/bpf/federation-ipsec-test-{Environment.ProcessId}"));
        Assert.DoesNotContain(Directory.GetFiles("/var/run/netns"), n => ProbeOfExitedProcess(Path.GetFileName(n)));
    }

    private static bool ProbeOfExitedProcess(string netns)
    {
        // fedipsec-probe-PID-xxxxxx
        var parts = netns.Split('-');
        return netns.StartsWith("fedipsec-probe-", StringComparison.Ordinal) && parts.Length == 4
            && int.TryParse(parts[2], System.Globalization.CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}");
    }
}
