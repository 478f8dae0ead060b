using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.ClusterMesh.ApiServer.Tests.Infrastructure;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>
/// Replays Cilium's operator-servicesync golden test (steps.txt) against the lab API server and a real etcd.
/// Two adaptations, both invisible to the exporter's logic: the lab allocates Service VIPs only from
/// 127.96.1.0/24, so the fixture VIP 10.96.50.104 is 127.96.1.104 in inputs and expectations alike (the exact
/// original bytes are checked in <see cref="ClusterServiceBuilderTests"/>); and "k8s/update" is a replace of the
/// whole object, as the upstream test's fake client does. The lab's EndpointSlice controller adds its own slice
/// for the selector Service (label endpointslice.kubernetes.io/managed-by, an empty placeholder because no pod
/// matches); like Cilium the exporter merges every slice labelled kubernetes.io/service-name, so the hand-written
/// slice (no managed-by label, left alone by the controller) supplies the backends and the placeholder adds none.
/// </summary>
[Trait("Needs", "etcd")]
public sealed class OperatorServiceSyncReplayTests : IAsyncLifetime
{
    private const string Scenario = "operator-servicesync";
    private const string FixtureVip = "10.96.50.104";
    private const string LabVip = "127.96.1.104";
    private readonly ClusterEnvironment _env = new();

    public Task InitializeAsync() => _env.InitializeAsync();

    public Task DisposeAsync() => _env.DisposeAsync();

    [Fact]
    public async Task Operator_servicesync_steps_replayed_through_the_lab_match_every_expected_listing_byte_for_byte()
    {
        var checkpoints = 0;
        foreach (var line in CiliumFixtures.Read(Scenario, "steps.txt").Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var fields = line.Split('\t');
            switch (fields[0])
            {
                case "config":
                    Assert.Equal("--cluster-id=3 --cluster-name=cluster3", fields[1]);
                    break;
                case "hive/start":
                    await _env.StartApiServerAsync(_env.Options(clusterName: "cluster3", clusterId: 3));
                    break;
                case "k8s/add":
                case "k8s/update":
                    foreach (var file in fields[1..])
                    {
                        await ApplyFixtureAsync(file);
                    }

                    break;
                case "k8s/delete":
                    foreach (var file in fields[1..])
                    {
                        await DeleteFixtureAsync(file);
                    }

                    break;
                case "expect-prefix":
                    var expected = CiliumFixtures.ReadListing(Scenario, fields[2]).Replace(FixtureVip, LabVip, StringComparison.Ordinal);
                    await _env.WaitForListingAsync(fields[1], expected, $"{line} (checkpoint {checkpoints + 1})");
                    checkpoints++;
                    break;
                case "expect-empty":
                    await _env.WaitForListingAsync(fields[1], string.Empty, $"{line} (checkpoint {checkpoints + 1})");
                    checkpoints++;
                    break;
                default:
                    Assert.Fail($"steps.txt operation '{fields[0]}' is not replayed by this test");
                    break;
            }
        }

        Assert.Equal(12, checkpoints);
        Assert.NotNull(await _env.ValueAsync("cilium/synced/cluster3/cilium/state/services/v1"));
    }

    private JsonNode Load(string file)
        => KubeYaml.ToJson(CiliumFixtures.Read(Scenario, file).Replace(FixtureVip, LabVip, StringComparison.Ordinal));

    private async Task ApplyFixtureAsync(string file)
    {
        var json = Load(file);
        switch (json["kind"]!.GetValue<string>())
        {
            case "Namespace":
                await _env.ApplyAsync(json.Deserialize(Namespace.JsonTypeInfo)!);
                break;
            case "Service":
                await _env.ApplyAsync(json.Deserialize(Service.JsonTypeInfo)!);
                break;
            case "EndpointSlice":
                await _env.ApplyAsync(json.Deserialize(EndpointSlice.JsonTypeInfo)!);
                break;
            case var kind:
                Assert.Fail($"{file}: kind {kind} is not replayed by this test");
                break;
        }
    }

    private async Task DeleteFixtureAsync(string file)
    {
        var json = Load(file);
        var ns = json["metadata"]!["namespace"]?.GetValue<string>();
        var name = json["metadata"]!["name"]!.GetValue<string>();
        switch (json["kind"]!.GetValue<string>())
        {
            case "Service":
                await _env.DeleteAsync<Service>(ns, name);
                break;
            case "EndpointSlice":
                await _env.DeleteAsync<EndpointSlice>(ns, name);
                break;
            case var kind:
                Assert.Fail($"{file}: kind {kind} is not replayed by this test");
                break;
        }
    }
}
