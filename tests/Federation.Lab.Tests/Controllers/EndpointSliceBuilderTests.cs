using Federation.Kubernetes.Models;
using Federation.Lab.ApiServer.Controllers;

namespace Federation.Lab.Tests;

public sealed class EndpointSliceBuilderTests
{
    private static Service Svc(string name = "web", IReadOnlyDictionary<string, string>? selector = null, bool publishNotReady = false, params ServicePort[] ports)
        => new()
        {
            Metadata = new ObjectMeta { Name = name, Namespace = "shop", Uid = "svc-uid", Labels = new Dictionary<string, string> { ["team"] = "a" } },
            Spec = new ServiceSpec
            {
                Selector = selector ?? new Dictionary<string, string> { ["app"] = "web" },
                Ports = ports.Length > 0 ? ports : [new ServicePort { Name = "http", Port = 80, TargetPort = 8080 }],
                PublishNotReadyAddresses = publishNotReady,
            },
        };

    private static Pod PodOf(string name, string? ip, bool ready = true, bool deleting = false, string phase = "Running", string app = "web", IReadOnlyList<ContainerPortSpec>? ports = null)
        => new()
        {
            Metadata = new ObjectMeta
            {
                Name = name,
                Namespace = "shop",
                Uid = name + "-uid",
                Labels = new Dictionary<string, string> { ["app"] = app },
                DeletionTimestamp = deleting ? DateTimeOffset.UnixEpoch : null,
            },
            Spec = new PodSpec { NodeName = "node-1", Containers = [new Container { Name = "main", Ports = ports }] },
            Status = new PodStatus
            {
                Phase = phase,
                PodIP = ip,
                Conditions = [new PodCondition { Type = "Ready", Status = ready ? "True" : "False" }],
            },
        };

    [Fact]
    public void A_service_without_a_selector_is_not_managed()
    {
        var service = Svc() with { Spec = Svc().Spec! with { Selector = null } };

        Assert.Null(EndpointSliceBuilder.Build(service, [PodOf("a", "10.0.0.1")]));
    }

    [Fact]
    public void Selected_pods_with_an_ip_become_endpoints_with_labels_and_owner()
    {
        var slices = EndpointSliceBuilder.Build(Svc(), [PodOf("b", "10.0.0.2"), PodOf("a", "10.0.0.1"), PodOf("other", "10.0.0.3", app: "db"), PodOf("pending", null)])!;

        var slice = Assert.Single(slices);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], slice.Endpoints!.Select(e => e.Addresses[0]));
        Assert.Equal("web", slice.Metadata.Labels![EndpointSliceBuilder.ServiceNameLabel]);
        Assert.Equal(EndpointSliceBuilder.ManagedByValue, slice.Metadata.Labels[EndpointSliceBuilder.ManagedByLabel]);
        Assert.Equal("a", slice.Metadata.Labels["team"]);
        Assert.StartsWith("web-", slice.Metadata.Name);
        var owner = Assert.Single(slice.Metadata.OwnerReferences!);
        Assert.Equal(("Service", "web", "svc-uid", true), (owner.Kind, owner.Name, owner.Uid, owner.Controller == true));
        Assert.Equal(("http", "TCP", 8080), (slice.Ports![0].Name, slice.Ports[0].Protocol, slice.Ports[0].Port));
        Assert.Equal(("Pod", "a", "a-uid", "node-1"), (slice.Endpoints![0].TargetRef!.Kind, slice.Endpoints[0].TargetRef!.Name, slice.Endpoints[0].TargetRef!.Uid, slice.Endpoints[0].NodeName));
    }

    [Fact]
    public void Conditions_follow_readiness_and_deletion()
    {
        var slice = Assert.Single(EndpointSliceBuilder.Build(Svc(), [PodOf("ready", "10.0.0.1"), PodOf("notready", "10.0.0.2", ready: false), PodOf("leaving", "10.0.0.3", deleting: true)])!);

        var byIp = slice.Endpoints!.ToDictionary(e => e.Addresses[0], e => e.Conditions!);
        Assert.Equal((true, true, false), (byIp["10.0.0.1"].Ready, byIp["10.0.0.1"].Serving, byIp["10.0.0.1"].Terminating));
        Assert.Equal((false, false, false), (byIp["10.0.0.2"].Ready, byIp["10.0.0.2"].Serving, byIp["10.0.0.2"].Terminating));
        Assert.Equal((false, true, true), (byIp["10.0.0.3"].Ready, byIp["10.0.0.3"].Serving, byIp["10.0.0.3"].Terminating));
    }

    [Fact]
    public void Publish_not_ready_addresses_marks_every_endpoint_ready()
    {
        var slice = Assert.Single(EndpointSliceBuilder.Build(Svc(publishNotReady: true), [PodOf("notready", "10.0.0.2", ready: false)])!);

        Assert.True(slice.Endpoints![0].Conditions!.Ready);
    }

    [Fact]
    public void Finished_pods_are_left_out()
    {
        var slice = Assert.Single(EndpointSliceBuilder.Build(Svc(), [PodOf("done", "10.0.0.1", phase: "Succeeded"), PodOf("failed", "10.0.0.2", phase: "Failed")])!);

        Assert.Empty(slice.Endpoints!);
    }

    [Fact]
    public void Named_target_ports_resolve_per_pod_and_group_pods_into_slices()
    {
        var service = Svc(ports: [new ServicePort { Name = "http", Port = 80, TargetPort = "web" }, new ServicePort { Name = "dns", Protocol = "UDP", Port = 53 }]);
        var pods = new[]
        {
            PodOf("v1-a", "10.0.0.1", ports: [new ContainerPortSpec { Name = "web", ContainerPort = 8080 }]),
            PodOf("v1-b", "10.0.0.2", ports: [new ContainerPortSpec { Name = "web", ContainerPort = 8080 }]),
            PodOf("v2", "10.0.0.3", ports: [new ContainerPortSpec { Name = "web", ContainerPort = 9090 }]),
            PodOf("noname", "10.0.0.4"),
        };

        var slices = EndpointSliceBuilder.Build(service, pods)!;

        Assert.Equal(3, slices.Count);
        Assert.Equal(3, slices.Select(s => s.Metadata.Name).Distinct().Count());
        var byPorts = slices.ToDictionary(s => string.Join(",", s.Ports!.Select(p => $"{p.Name}:{p.Port}")), s => s.Endpoints!.Select(e => e.Addresses[0]).ToList());
        Assert.Equal(["10.0.0.1", "10.0.0.2"], byPorts["http:8080,dns:53"]);
        Assert.Equal(["10.0.0.3"], byPorts["http:9090,dns:53"]);
        // The named port is missing in this pod: only the numeric one is served.
        Assert.Equal(["10.0.0.4"], byPorts["dns:53"]);
    }

    [Fact]
    public void A_service_with_no_pods_keeps_one_empty_placeholder_slice()
    {
        var slice = Assert.Single(EndpointSliceBuilder.Build(Svc(), [])!);

        Assert.Empty(slice.Endpoints!);
        Assert.Null(slice.Ports);
    }

    [Fact]
    public void Slice_names_are_stable_across_reconciles()
    {
        var first = EndpointSliceBuilder.Build(Svc(), [PodOf("a", "10.0.0.1")])!;
        var second = EndpointSliceBuilder.Build(Svc(), [PodOf("a", "10.0.0.1"), PodOf("b", "10.0.0.2")])!;

        Assert.Equal(first[0].Metadata.Name, second[0].Metadata.Name);
        Assert.True(EndpointSliceBuilder.SameContent(first[0], first[0]));
        Assert.False(EndpointSliceBuilder.SameContent(first[0], second[0]));
    }
}
