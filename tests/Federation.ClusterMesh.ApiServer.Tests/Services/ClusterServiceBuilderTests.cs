using System.Text;
using Federation.ClusterMesh.ApiServer.Services;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;

namespace Federation.ClusterMesh.ApiServer.Tests.Services;

/// <summary>The pure mapping against Cilium's golden bytes (the exact fixture inputs, including the 10.96.50.104 VIP the lab cannot allocate).</summary>
public sealed class ClusterServiceBuilderTests
{
    private const string Scenario = "operator-servicesync";

    [Theory]
    [InlineData("input/service.yaml", null, "steps/01-services-1.expected.txt")]
    [InlineData("input/service.yaml", "input/endpointslice.yaml", "steps/02-services-2.expected.txt")]
    [InlineData("input/service.yaml", "input/derived/endpointslice.v2.yaml", "steps/03-services-3.expected.txt")]
    [InlineData("input/derived/service.v2.yaml", "input/derived/endpointslice.v3.yaml", "steps/04-services-4.expected.txt")]
    [InlineData("input/derived/service.v4.yaml", "input/derived/endpointslice.v3.yaml", "steps/07-services-4.expected.txt")]
    [InlineData("input/derived/service.v6.yaml", "input/derived/endpointslice.v4.yaml", "steps/08-services-5.expected.txt")]
    public void Operator_servicesync_inputs_produce_ciliums_exact_bytes(string servicePath, string? slicePath, string expectedPath)
    {
        var service = KubeYaml.Parse<Service>(CiliumFixtures.Read(Scenario, servicePath));
        EndpointSlice[] slices = slicePath is null ? [] : [KubeYaml.Parse<EndpointSlice>(CiliumFixtures.Read(Scenario, slicePath))];
        var @namespace = KubeYaml.Parse<Namespace>(CiliumFixtures.Read(Scenario, "input/namespace.yaml"));

        var result = ClusterServiceBuilder.Build(service, slices, @namespace, "cluster3", 3);

        var line = $"{ClusterMeshKeys.Service("cluster3", "test", "echo")}\t{Encoding.UTF8.GetString(ClusterMeshJson.Serialize(result.Service!))}";
        Assert.Equal(CiliumFixtures.ReadListing(Scenario, expectedPath), line);
        Assert.Empty(result.Invalid);
    }

    [Theory]
    [InlineData("input/derived/service.v3.yaml")]
    [InlineData("input/derived/service.v5.yaml")]
    public void Operator_servicesync_services_that_are_not_global_or_not_shared_are_not_exported(string servicePath)
    {
        var service = KubeYaml.Parse<Service>(CiliumFixtures.Read(Scenario, servicePath));

        Assert.Null(ClusterServiceBuilder.Build(service, [], null, "cluster3", 3).Service);
    }

    [Theory]
    [InlineData(true, true, false, true)]
    [InlineData(false, true, true, true)]
    [InlineData(true, false, true, true)]
    [InlineData(null, null, true, true)]
    [InlineData(false, false, false, false)]
    [InlineData(false, false, true, false)]
    [InlineData(false, null, false, false)]
    public void Endpoint_is_exported_when_ready_or_serving_while_terminating(bool? ready, bool? serving, bool? terminating, bool exported)
    {
        Assert.Equal(exported, ClusterServiceBuilder.IsExported(new EndpointConditions { Ready = ready, Serving = serving, Terminating = terminating }));
    }
}
