using Federation.NodeAgent.Hosting;

namespace Federation.NodeAgent.Tests.Agent;

public sealed class AgentFlagsTests
{
    private static readonly string[] Required = ["--node-name", "n1", "--cluster-name", "cluster1", "--cluster-id", "1", "--cgroup", "/"];

    [Fact]
    public void Valid_flags_parse_with_their_defaults()
    {
        var (options, errors) = AgentFlags.Parse([.. Required, "--sync-timeout", "90s", "--health-listen=127.0.0.1:0", "--etcd-endpoints", "http://127.0.0.1:2379"]);
        Assert.Empty(errors);
        Assert.Equal(TimeSpan.FromSeconds(90), options.SyncTimeout);
        Assert.Equal(RemoteSourceKind.Cache, options.RemoteSource);
        Assert.Empty(AgentFlags.Parse([.. Required, "--remote-source", "direct", "--clustermesh-config", "/tmp/cm"]).Errors);
        Assert.Contains(AgentFlags.Parse(Required).Errors, e => e.StartsWith("--etcd-endpoints", StringComparison.Ordinal));
        Assert.Equal("/sys/fs/bpf/federation/n1", options.PinDirectory);
        Assert.Equal(AgentMode.Run, options.Mode);
        Assert.Equal(9890, AgentFlags.Parse([.. Required, "--remote-source", "direct"]).Options.HealthListen.Port);
    }

    [Theory]
    [InlineData("--cluster-id", "0", "--cluster-id")]
    [InlineData("--cluster-id", "300", "--cluster-id")]
    [InlineData("--max-connected-clusters", "300", "--max-connected-clusters")]
    [InlineData("--cluster-name", "Default", "--cluster-name")]
    [InlineData("--cgroup", "/does/not/exist", "--cgroup")]
    [InlineData("--node-name", "a/b", "--node-name")]
    [InlineData("--sync-timeout", "soon", "--sync-timeout")]
    [InlineData("--sync-timeout", "0s", "--sync-timeout")]
    [InlineData("--remote-source", "etcd", "--remote-source")]
    [InlineData("--health-listen", "localhost", "--health-listen")]
    [InlineData("--bogus", "1", "--bogus")]
    [InlineData("--wireguard", "yes", "--wireguard")]
    [InlineData("--wireguard-userspace", "maybe", "--wireguard-userspace")]
    public void A_bad_flag_is_refused_naming_the_flag(string flag, string value, string named)
    {
        var (_, errors) = AgentFlags.Parse([.. Required, flag, value]);
        Assert.Contains(errors, e => e.StartsWith(named, StringComparison.Ordinal));
    }

    [Fact]
    public void The_cache_remote_source_is_the_default_and_needs_the_local_etcd()
    {
        Assert.Empty(AgentFlags.Parse([.. Required, "--remote-source", "cache", "--etcd-endpoints", "http://127.0.0.1:2379"]).Errors);
        var error = Assert.Single(AgentFlags.Parse(Required).Errors);
        Assert.StartsWith("--etcd-endpoints", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Dump_and_uninstall_need_only_the_node_and_exclude_each_other()
    {
        var (dump, errors) = AgentFlags.Parse(["--dump", "--node-name", "n1"]);
        Assert.Empty(errors);
        Assert.Equal(AgentMode.Dump, dump.Mode);
        Assert.Equal(AgentMode.Uninstall, AgentFlags.Parse(["--uninstall", "--node-name", "n1"]).Options.Mode);
        Assert.Contains(AgentFlags.Parse(["--dump", "--uninstall", "--node-name", "n1"]).Errors, e => e.Contains("--dump", StringComparison.Ordinal));
        Assert.Contains(AgentFlags.Parse(["--dump"]).Errors, e => e.StartsWith("--node-name", StringComparison.Ordinal));
    }

    [Fact]
    public void WireGuard_is_off_by_default_and_its_flags_parse_as_switches_and_values()
    {
        var (off, errors) = AgentFlags.Parse([.. Required, "--etcd-endpoints", "http://127.0.0.1:2379"]);
        Assert.Empty(errors);
        Assert.False(off.WireGuard);
        Assert.Equal("cilium_wg0", off.WireGuardInterface);
        Assert.Equal(51871, off.WireGuardPort);
        Assert.Null(off.WireGuardNetns);
        Assert.Null(off.WireGuardUnderlayInterface);
        Assert.False(off.WireGuardUserspace);
        Assert.Equal("/var/run/federation/node-agent/n1", off.WireGuardKeyDirectory);

        var (on, onErrors) = AgentFlags.Parse(
            [.. Required, "--etcd-endpoints", "http://127.0.0.1:2379", "--wireguard", "--wireguard-interface", "wg-n1", "--wireguard-port=51900",
                "--wireguard-underlay-interface", "eth0", "--wireguard-userspace", "true"]);
        Assert.Empty(onErrors);
        Assert.True(on.WireGuard);
        Assert.True(on.WireGuardUserspace);
        Assert.Equal(("wg-n1", 51900, "eth0"), (on.WireGuardInterface, on.WireGuardPort, on.WireGuardUnderlayInterface));
        Assert.False(AgentFlags.Parse([.. Required, "--wireguard=false"]).Options.WireGuard);
        Assert.True(AgentFlags.Parse([.. Required, "--wireguard", "true"]).Options.WireGuard);
    }

    [Theory]
    [InlineData("--wireguard-interface", "a-name-longer-than-15", "--wireguard-interface")]
    [InlineData("--wireguard-interface", "wg/0", "--wireguard-interface")]
    [InlineData("--wireguard-port", "0", "--wireguard-port")]
    [InlineData("--wireguard-port", "70000", "--wireguard-port")]
    [InlineData("--wireguard-port", "udp", "--wireguard-port")]
    [InlineData("--wireguard-netns", "no-such-netns-for-the-agent-tests", "--wireguard-netns")]
    [InlineData("--wireguard-netns", "/var/run/netns/x", "--wireguard-netns")]
    [InlineData("--wireguard-underlay-interface", "eth0:1/x", "--wireguard-underlay-interface")]
    public void A_bad_wireguard_flag_is_refused_naming_the_flag(string flag, string value, string named)
    {
        var (_, errors) = AgentFlags.Parse([.. Required, "--etcd-endpoints", "http://127.0.0.1:2379", "--wireguard=true", flag, value]);
        Assert.Contains(errors, e => e.StartsWith(named, StringComparison.Ordinal));
    }

    [Fact]
    public void Ipsec_is_off_by_default_and_needs_a_valid_key_file()
    {
        var keyFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(keyFile, "3 rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128\n");
            string[] flags = [.. Required, "--remote-source", "direct"];
            var (off, offErrors) = AgentFlags.Parse(flags);
            Assert.Empty(offErrors);
            Assert.False(off.Ipsec);

            var (on, onErrors) = AgentFlags.Parse([.. flags, "--ipsec=true", "--ipsec-key-file", keyFile]);
            Assert.Empty(onErrors);
            Assert.True(on.Ipsec);
            Assert.Equal(keyFile, on.IpsecKeyFile);
            Assert.True(AgentFlags.Parse([.. flags, "--ipsec", "--ipsec-key-file", keyFile]).Options.Ipsec);

            Assert.Contains(AgentFlags.Parse([.. flags, "--ipsec=yes"]).Errors, e => e.StartsWith("--ipsec: 'yes' is not one of true, false", StringComparison.Ordinal));
            Assert.Contains(AgentFlags.Parse([.. flags, "--ipsec=true"]).Errors, e => e.StartsWith("--ipsec-key-file: required with --ipsec=true", StringComparison.Ordinal));
            Assert.Contains(AgentFlags.Parse([.. flags, "--ipsec-key-file", keyFile]).Errors, e => e.StartsWith("--ipsec-key-file: only used with --ipsec=true", StringComparison.Ordinal));
            Assert.Contains(
                AgentFlags.Parse([.. flags, "--ipsec=true", "--ipsec-key-file", keyFile + ".missing"]).Errors,
                e => e == $"--ipsec-key-file: {keyFile}.missing: does not exist");

            var both = AgentFlags.Parse([.. flags, "--ipsec=true", "--ipsec-key-file", keyFile, "--wireguard=true"]).Errors;
            var error = Assert.Single(both);
            Assert.Contains("--ipsec=true", error, StringComparison.Ordinal);
            Assert.Contains("--wireguard=true", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Theory]
    [InlineData("3 rfc4106(gcm(aes)) 0x0102", "4 fields")]
    [InlineData("16 rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 128", "SPI")]
    [InlineData("3 rfc4106(gcm(aes)) 0102zz 128", "AEAD key")]
    [InlineData("3 rfc4106(gcm(aes)) 0x0102030405060708090a0b0c0d0e0f1011121314 100", "ICV")]
    [InlineData("", "not 0")]
    public void A_bad_ipsec_key_file_is_refused_naming_the_flag_the_file_and_the_field(string line, string field)
    {
        var keyFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(keyFile, line);
            var (_, errors) = AgentFlags.Parse([.. Required, "--remote-source", "direct", "--ipsec=true", "--ipsec-key-file", keyFile]);
            var error = Assert.Single(errors);
            Assert.StartsWith($"--ipsec-key-file: {keyFile}: ", error, StringComparison.Ordinal);
            Assert.Contains(field, error, StringComparison.Ordinal);
            Assert.DoesNotContain("0x0102", error, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(keyFile);
        }
    }

    [Theory]
    [InlineData("10.1")]
    [InlineData("fd00::1")]
    [InlineData("0.0.0.0")]
    [InlineData("pod")]
    public void A_bad_route_source_is_refused_naming_the_flag(string value)
    {
        var (_, errors) = AgentFlags.Parse([.. Required, "--remote-source", "direct", "--wireguard=true", "--wireguard-route-source", value]);
        Assert.Contains(errors, e => e.StartsWith("--wireguard-route-source", StringComparison.Ordinal));
        Assert.Equal("10.1.1.1", AgentFlags.Parse([.. Required, "--remote-source", "direct", "--wireguard", "--wireguard-route-source=10.1.1.1"]).Options.WireGuardRouteSource);
    }
}
