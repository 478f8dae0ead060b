using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.ClusterMesh.ApiServer.Tests.Services;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Tests.Nodes;

/// <summary>The nodes exporter against the lab API server and a real etcd (cluster1, ID 1).</summary>
[Trait("Needs", "etcd")]
public sealed class NodeExportTests : IAsyncLifetime
{
    private const string Prefix = "cilium/state/nodes/v1/cluster1/";
    private readonly ClusterEnvironment _env = new();

    public Task InitializeAsync() => _env.InitializeAsync();

    public Task DisposeAsync() => _env.DisposeAsync();

    private static string NodeYaml(string wireguardKey) => $"""
        apiVersion: v1
        kind: Node
        metadata:
          name: node-1
          labels:
            kubernetes.io/hostname: node-1
            topology.kubernetes.io/zone: zone-a
          annotations:
            network.cilium.io/wg-pub-key: "{wireguardKey}"
            node.alpha.kubernetes.io/ttl: "0"
        spec:
          podCIDR: 10.244.1.0/24
          podCIDRs:
          - 10.244.1.0/24
          - fd00:10:244:1::/64
          - 10.245.1.0/24
        status:
          addresses:
          - type: Hostname
            address: node-1
          - type: InternalIP
            address: 192.168.10.1
          - type: InternalIP
            address: fc00:c111::1
          - type: ExternalIP
            address: 203.0.113.1
        """;

    private static string Expected(string wireguardKey) =>
        "{\"Name\":\"node-1\",\"Cluster\":\"cluster1\","
        + "\"IPAddresses\":[{\"Type\":\"InternalIP\",\"IP\":\"192.168.10.1\"},{\"Type\":\"InternalIP\",\"IP\":\"fc00:c111::1\"},{\"Type\":\"ExternalIP\",\"IP\":\"203.0.113.1\"}],"
        + "\"IPv4AllocCIDR\":{\"IP\":\"10.244.1.0\",\"Mask\":\"////AA==\"},\"IPv4SecondaryAllocCIDRs\":[{\"IP\":\"10.245.1.0\",\"Mask\":\"////AA==\"}],"
        + "\"IPv6AllocCIDR\":{\"IP\":\"fd00:10:244:1::\",\"Mask\":\"//////////8AAAAAAAAAAA==\"},\"IPv6SecondaryAllocCIDRs\":null,"
        + "\"IPv4HealthIP\":\"\",\"IPv6HealthIP\":\"\",\"IPv4IngressIP\":\"\",\"IPv6IngressIP\":\"\",\"ClusterID\":1,\"Source\":\"custom-resource\",\"EncryptionKey\":0,"
        + "\"Labels\":{\"kubernetes.io/hostname\":\"node-1\",\"topology.kubernetes.io/zone\":\"zone-a\"},"
        + $"\"Annotations\":{{\"network.cilium.io/wg-pub-key\":\"{wireguardKey}\"}},\"WireguardPubKey\":\"{wireguardKey}\",\"BootID\":\"\"}}";

    [Fact]
    public async Task Node_is_exported_with_addresses_dual_stack_pod_cidrs_and_wireguard_key_and_removed_when_deleted()
    {
        var host = await _env.StartApiServerAsync();
        using var http = new HttpClient { BaseAddress = host.HealthUri };
        const string Key1 = "VRksOB6ZNds4oXWIGfSVpvc0gBhcOWFmzvTDcyvULlI=";
        const string Key2 = "AAAAOB6ZNds4oXWIGfSVpvc0gBhcOWFmzvTDcyvULlI=";

        await _env.ApplyYamlAsync<Node>(NodeYaml(Key1));
        await _env.WaitForValueAsync(Prefix + "node-1", Expected(Key1), "node-1 exported");
        Assert.NotNull(await _env.ValueAsync("cilium/synced/cluster1/cilium/state/nodes/v1"));
        var status = JsonNode.Parse(await http.GetStringAsync("status"))!;
        Assert.True(status["synced"]!["nodes"]!.GetValue<bool>());
        Assert.Equal(1, status["nodes"]!["exported"]!.GetValue<int>());

        await _env.ApplyYamlAsync<Node>(NodeYaml(Key2));
        await _env.WaitForValueAsync(Prefix + "node-1", Expected(Key2), "rotated WireGuard key exported");

        await _env.DeleteAsync<Node>(null, "node-1");
        await _env.WaitForValueAsync(Prefix + "node-1", null, "deleted node removed");
    }

    [Fact]
    public async Task Node_without_addresses_cidrs_or_annotations_is_exported_with_nulls_as_cilium_encodes_them()
    {
        await _env.StartApiServerAsync();
        await _env.ApplyYamlAsync<Node>("""
            apiVersion: v1
            kind: Node
            metadata:
              name: bare
            """);

        await _env.WaitForValueAsync(
            Prefix + "bare",
            """{"Name":"bare","Cluster":"cluster1","IPAddresses":null,"IPv4AllocCIDR":null,"IPv4SecondaryAllocCIDRs":null,"IPv6AllocCIDR":null,"IPv6SecondaryAllocCIDRs":null,"IPv4HealthIP":"","IPv6HealthIP":"","IPv4IngressIP":"","IPv6IngressIP":"","ClusterID":1,"Source":"custom-resource","EncryptionKey":0,"Labels":null,"Annotations":null,"WireguardPubKey":"","BootID":""}""",
            "bare node exported");
    }

    [Fact]
    public async Task Nodes_left_over_from_a_previous_run_are_swept_and_present_ones_kept_after_a_restart()
    {
        var first = await _env.StartApiServerAsync();
        await _env.ApplyYamlAsync<Node>(NodeYaml("k1"));
        await _env.ApplyYamlAsync<Node>("""
            apiVersion: v1
            kind: Node
            metadata:
              name: node-2
            """);
        await WaitExportedAsync("node-2");
        await _env.WaitForValueAsync(Prefix + "node-1", Expected("k1"), "node-1 exported");
        await _env.StopAsync(first);

        await _env.DeleteAsync<Node>(null, "node-2");
        await _env.StartApiServerAsync();

        await _env.WaitForValueAsync(Prefix + "node-2", null, "node deleted while the server was down is swept");
        Assert.Equal(Expected("k1"), await _env.ValueAsync(Prefix + "node-1"));
    }

    private Task WaitExportedAsync(string node)
        => Eventually.TrueAsync(async () => await _env.ValueAsync(Prefix + node) is not null, MeshScenario.Timeout, $"{node} exported");
}
