using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Tests;

public sealed class ModelJsonTests
{
    private static JsonNode Parse(string json) => JsonNode.Parse(json)!;

    [Fact]
    public void Service_round_trip_keeps_unknown_fields_at_every_level()
    {
        const string json = """
            {"apiVersion":"v1","kind":"Service",
             "metadata":{"name":"web","namespace":"demo","uid":"u-1","resourceVersion":"42","generation":3,
                         "creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web"},
                         "annotations":{"service.cilium.io/global":"true"},"managedFields":[{"manager":"kubectl"}]},
             "spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],
                     "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"appProtocol":"http","futurePortField":1}],
                     "selector":{"app":"web"},"sessionAffinity":"None","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",
                     "internalTrafficPolicy":"Cluster","publishNotReadyAddresses":false},
             "status":{"loadBalancer":{}}}
            """;

        var service = JsonSerializer.Deserialize(json, Service.JsonTypeInfo)!;
        var written = JsonSerializer.Serialize(service, Service.JsonTypeInfo);

        Assert.Equal("web", service.Metadata.Name);
        Assert.Equal(3, service.Metadata.Generation);
        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero), service.Metadata.CreationTimestamp);
        Assert.Equal("10.96.0.10", service.Spec!.ClusterIP);
        Assert.Equal(["IPv4"], service.Spec.IpFamilies!);
        Assert.Equal(8080, service.Spec.Ports![0].TargetPort!.IntValue);
        Assert.True(JsonNode.DeepEquals(Parse(json), Parse(written)), written);
    }

    [Fact]
    public void Nulls_are_omitted_and_names_are_kubernetes_camel_case()
    {
        var pod = new Pod
        {
            Metadata = new ObjectMeta { Name = "p", Namespace = "n" },
            Spec = new PodSpec { NodeName = "node-1", HostNetwork = true, Containers = [new Container { Name = "c", Ports = [new ContainerPortSpec { ContainerPort = 80 }] }] },
            Status = new PodStatus { PodIP = "10.0.1.5", PodIPs = [new PodIP { Ip = "10.0.1.5" }], HostIP = "192.168.0.2" },
        };

        var written = Parse(JsonSerializer.Serialize(pod, Pod.JsonTypeInfo));

        var expected = Parse("""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"n"},
             "spec":{"nodeName":"node-1","containers":[{"name":"c","ports":[{"containerPort":80}]}],"hostNetwork":true},
             "status":{"podIP":"10.0.1.5","podIPs":[{"ip":"10.0.1.5"}],"hostIP":"192.168.0.2"}}
            """);
        Assert.True(JsonNode.DeepEquals(expected, written), written.ToJsonString());
    }

    [Fact]
    public void IntOrString_reads_and_writes_both_forms()
    {
        const string json = """{"port":443,"targetPort":"https"}""";
        var port = JsonSerializer.Deserialize("""{"port":80,"targetPort":8080}""", KubernetesJsonContext.Default.Service.Options.GetTypeInfo(typeof(ServicePort))) as ServicePort;
        var named = JsonSerializer.Deserialize(json, KubernetesJsonContext.Default.Service.Options.GetTypeInfo(typeof(ServicePort))) as ServicePort;

        Assert.True(port!.TargetPort!.IsInt);
        Assert.Equal(8080, port.TargetPort.IntValue);
        Assert.False(named!.TargetPort!.IsInt);
        Assert.Equal("https", named.TargetPort.StringValue);
        Assert.Equal(json, JsonSerializer.Serialize(named, KubernetesJsonContext.Default.Options.GetTypeInfo(typeof(ServicePort))));
        Assert.Equal(IntOrString.FromInt(8080), (IntOrString)8080);
    }

    [Fact]
    public void Lease_times_are_written_as_MicroTime_with_six_fractional_digits()
    {
        var renew = new DateTimeOffset(2024, 5, 1, 10, 0, 0, TimeSpan.Zero).AddTicks(1_234_567);
        var lease = new Lease
        {
            Metadata = new ObjectMeta { Name = "l", Namespace = "kube-node-lease" },
            Spec = new LeaseSpec { HolderIdentity = "node-1", LeaseDurationSeconds = 40, RenewTime = renew, LeaseTransitions = 2 },
        };

        var written = JsonSerializer.Serialize(lease, Lease.JsonTypeInfo);
        var read = JsonSerializer.Deserialize(written, Lease.JsonTypeInfo)!;

        Assert.Contains("\"renewTime\":\"2024-05-01T10:00:00.123456Z\"", written, StringComparison.Ordinal);
        Assert.Contains("\"apiVersion\":\"coordination.k8s.io/v1\"", written, StringComparison.Ordinal);
        Assert.Equal(renew.AddTicks(-7), read.Spec!.RenewTime);
    }

    [Fact]
    public void MicroTime_with_an_offset_is_read_as_the_same_instant()
    {
        var lease = JsonSerializer.Deserialize("""{"spec":{"acquireTime":"2024-05-01T12:00:00.5+02:00"}}""", Lease.JsonTypeInfo)!;

        Assert.Equal(new DateTimeOffset(2024, 5, 1, 10, 0, 0, 500, TimeSpan.Zero), lease.Spec!.AcquireTime);
    }

    [Fact]
    public void Secret_data_is_base64_on_the_wire_and_bytes_in_memory()
    {
        var secret = JsonSerializer.Deserialize("""{"kind":"Secret","type":"Opaque","data":{"key":"aGVsbG8="},"metadata":{"name":"s"}}""", Secret.JsonTypeInfo)!;

        Assert.Equal("hello", Encoding.ASCII.GetString(secret.Data!["key"]));
        Assert.Contains("\"key\":\"aGVsbG8=\"", JsonSerializer.Serialize(secret, Secret.JsonTypeInfo), StringComparison.Ordinal);
    }

    [Fact]
    public void EndpointSlice_reads_conditions_and_target_ref()
    {
        const string json = """
            {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"web-abc","namespace":"demo",
              "labels":{"kubernetes.io/service-name":"web"},"ownerReferences":[{"apiVersion":"v1","kind":"Service","name":"web","uid":"s-1","controller":true}]},
             "addressType":"IPv4",
             "endpoints":[{"addresses":["10.0.1.5"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"n1","zone":"z1",
                           "targetRef":{"kind":"Pod","namespace":"demo","name":"web-1","uid":"p-1"}}],
             "ports":[{"name":"http","protocol":"TCP","port":8080}]}
            """;

        var slice = JsonSerializer.Deserialize(json, EndpointSlice.JsonTypeInfo)!;

        Assert.Equal("IPv4", slice.AddressType);
        Assert.True(slice.Endpoints![0].Conditions!.Ready);
        Assert.Equal("web-1", slice.Endpoints[0].TargetRef!.Name);
        Assert.True(slice.Metadata.OwnerReferences![0].Controller);
        Assert.True(JsonNode.DeepEquals(Parse(json), Parse(JsonSerializer.Serialize(slice, EndpointSlice.JsonTypeInfo))));
    }

    [Fact]
    public void Node_status_and_list_metadata_are_read()
    {
        const string json = """
            {"apiVersion":"v1","kind":"NodeList","metadata":{"resourceVersion":"77","continue":"tok"},
             "items":[{"metadata":{"name":"n1"},"spec":{"podCIDR":"10.1.0.0/24","podCIDRs":["10.1.0.0/24"],"unschedulable":true},
                       "status":{"addresses":[{"type":"InternalIP","address":"192.168.1.1"}],
                                 "conditions":[{"type":"Ready","status":"True","lastTransitionTime":"2024-01-01T00:00:00Z"}]}}]}
            """;

        var list = JsonSerializer.Deserialize(json, Node.ListJsonTypeInfo)!;

        Assert.Equal("77", list.Metadata.ResourceVersion);
        Assert.Equal("tok", list.Metadata.Continue);
        Assert.Equal("10.1.0.0/24", list.Items[0].Spec!.PodCIDR);
        Assert.Equal("192.168.1.1", list.Items[0].Status!.Addresses![0].Address);
        Assert.Equal("True", list.Items[0].Status!.Conditions![0].Status);
    }

    [Theory]
    [InlineData(typeof(Service), "/api/v1", "services", true)]
    [InlineData(typeof(EndpointSlice), "/apis/discovery.k8s.io/v1", "endpointslices", true)]
    [InlineData(typeof(Node), "/api/v1", "nodes", false)]
    [InlineData(typeof(Namespace), "/api/v1", "namespaces", false)]
    [InlineData(typeof(Lease), "/apis/coordination.k8s.io/v1", "leases", true)]
    public void Kinds_carry_their_api_identity(Type type, string groupVersionPath, string plural, bool namespaced)
    {
        var resource = ResourceOf(type);

        Assert.Equal(groupVersionPath, resource.GroupVersionPath);
        Assert.Equal(plural, resource.Plural);
        Assert.Equal(namespaced, resource.Namespaced);
    }

    private static ApiResource ResourceOf(Type type) => type.Name switch
    {
        nameof(Service) => Service.Resource,
        nameof(EndpointSlice) => EndpointSlice.Resource,
        nameof(Node) => Node.Resource,
        nameof(Namespace) => Namespace.Resource,
        nameof(Lease) => Lease.Resource,
        _ => throw new ArgumentOutOfRangeException(nameof(type)),
    };
}
