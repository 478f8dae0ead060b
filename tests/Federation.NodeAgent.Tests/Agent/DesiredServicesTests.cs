using System.Collections.Immutable;
using System.Net;
using Federation.Etcd.ClusterMesh;
using Federation.Kubernetes.Models;
using Federation.Mesh.Services;
using Federation.NodeAgent.Datapath;
using Federation.NodeAgent.Services;
using Federation.NodeAgent.Sync;

namespace Federation.NodeAgent.Tests.Agent;

public sealed class DesiredServicesTests
{
    [Fact]
    public void IPv4_frontends_become_lb_services_in_merge_order_and_IPv6_ones_are_skipped_and_counted()
    {
        var merged = new MergedService
        {
            Namespace = "default",
            Name = "web",
            Frontends =
            [
                new MergedFrontend
                {
                    Ip = "10.96.0.10", Port = 80, Protocol = "TCP", PortName = "http",
                    Backends = [new MergedBackend("10.0.0.2", 8080, "TCP", 1, "c1", BackendState.Active), new MergedBackend("10.1.0.2", 8080, "TCP", 2, "c2", BackendState.Active)],
                },
                new MergedFrontend { Ip = "fd00::10", Port = 80, Protocol = "TCP", PortName = "http" },
                new MergedFrontend { Ip = "10.96.0.10", Port = 90, Protocol = "SCTP", PortName = "s" },
            ],
        };

        var desired = DesiredServices.From([merged]);

        var service = Assert.Single(desired.Services);
        Assert.Equal(new LbFrontend(IPAddress.Parse("10.96.0.10"), 80, LbProtocol.Tcp), service.Frontend);
        Assert.Equal([(ushort)1, (ushort)2], service.Backends.Select(b => b.ClusterId));
        Assert.Equal(1, desired.Skipped[DesiredServices.SkippedIpv6]);
        Assert.Equal(1, desired.Skipped[DesiredServices.SkippedProtocol]);
        Assert.Equal("default/web", Assert.Single(desired.Programmed).Key);
        Assert.Equal(["c1", "c2"], desired.Programmed[0].Frontends[0].Backends.Select(b => b.Cluster));
    }

    [Fact]
    public void A_backend_with_an_unparsable_address_or_port_0_is_left_out_alone_and_counted_by_reason()
    {
        // A remote ClusterService with bad backends, merged with a local service whose slice has a bad address.
        var local = new LocalService
        {
            Namespace = "default",
            Name = "web",
            Global = true,
            Frontends = [new LocalFrontend("10.96.0.10", "http", "TCP", 80)],
            Backends =
            [
                new LocalBackend { Ip = "10.0.0.2", Ports = Http(8080), State = BackendState.Active },
                new LocalBackend { Ip = "not-an-ip", Ports = Http(8080), State = BackendState.Active },
            ],
        };
        var remote = new ClusterService
        {
            Cluster = "c2",
            Namespace = "default",
            Name = "web",
            ClusterId = 2,
            Shared = true,
            IncludeExternal = true,
            Frontends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty.Add("10.96.0.10", Http(80)),
            Backends = ImmutableDictionary<string, ImmutableDictionary<string, L4Addr>>.Empty
                .Add("10.1.0.2", Http(8080))
                .Add("10.1.0.3", Http(0))
                .Add("10.1.0.999", Http(8080))
                .Add("fd00::2", Http(8080)),
        };
        var merged = GlobalServiceMerge.Compute(local, new Dictionary<string, ClusterService> { ["c2"] = remote }, 1, "c1");

        var desired = DesiredServices.From([merged]);

        var service = Assert.Single(desired.Services);
        Assert.Equal(["10.0.0.2", "10.1.0.2"], service.Backends.Select(b => b.Address.ToString()));
        Assert.All(service.Backends, b => Assert.Equal(8080, b.Port));
        Assert.Equal(2, desired.SkippedBackends[DesiredServices.SkippedInvalidAddress]);
        Assert.Equal(1, desired.SkippedBackends[DesiredServices.SkippedPortZero]);
        Assert.Equal(1, desired.SkippedBackends[DesiredServices.SkippedIpv6]);
        Assert.Empty(desired.Skipped);
        Assert.Equal(["10.0.0.2", "10.1.0.2"], Assert.Single(desired.Programmed).Frontends[0].Backends.Select(b => b.Address));
    }

    private static ImmutableDictionary<string, L4Addr> Http(ushort port)
        => ImmutableDictionary<string, L4Addr>.Empty.Add("http", new L4Addr { Protocol = "TCP", Port = port });

    [Fact]
    public void Endpoint_conditions_map_to_active_terminating_and_not_ready()
    {
        Assert.Equal(BackendState.Active, LocalServiceBuilder.StateOf(null));
        Assert.Equal(BackendState.Active, LocalServiceBuilder.StateOf(new EndpointConditions { Ready = true, Serving = true }));
        Assert.Equal(BackendState.Terminating, LocalServiceBuilder.StateOf(new EndpointConditions { Ready = false, Serving = true, Terminating = true }));
        Assert.Equal(BackendState.NotReady, LocalServiceBuilder.StateOf(new EndpointConditions { Ready = false, Serving = true, Terminating = false }));
        Assert.Equal(BackendState.NotReady, LocalServiceBuilder.StateOf(new EndpointConditions { Ready = false, Serving = false, Terminating = true }));
    }

    [Fact]
    public void A_service_without_cluster_IP_is_not_programmed_and_one_with_it_carries_annotations_and_slice_ports()
    {
        var headless = new Service
        {
            Metadata = new ObjectMeta { Name = "db", Namespace = "default" },
            Spec = new ServiceSpec { ClusterIP = "None", Ports = [new ServicePort { Name = "sql", Port = 5432 }] },
        };
        Assert.Null(LocalServiceBuilder.Build(headless, []).Service);

        var web = new Service
        {
            Metadata = new ObjectMeta
            {
                Name = "web",
                Namespace = "default",
                Annotations = new Dictionary<string, string> { ["service.cilium.io/global"] = "true", ["service.cilium.io/affinity"] = "remote" },
            },
            Spec = new ServiceSpec { ClusterIP = "10.96.0.10", ClusterIPs = ["10.96.0.10"], Ports = [new ServicePort { Name = "http", Protocol = "TCP", Port = 80 }] },
        };
        var slice = new EndpointSlice
        {
            Metadata = new ObjectMeta { Name = "web-1", Namespace = "default" },
            AddressType = "IPv4",
            Ports = [new EndpointPort { Name = "http", Protocol = "TCP", Port = 8080 }],
            Endpoints =
            [
                new Endpoint { Addresses = ["10.0.0.3"], Conditions = new EndpointConditions { Ready = false, Serving = false } },
                new Endpoint { Addresses = ["10.0.0.2"], Conditions = new EndpointConditions { Ready = true } },
            ],
        };

        var (local, problems) = LocalServiceBuilder.Build(web, [slice]);

        Assert.Empty(problems);
        Assert.NotNull(local);
        Assert.True(local.Global);
        Assert.Equal(ServiceAffinity.Remote, local.Affinity);
        Assert.Equal(new LocalFrontend("10.96.0.10", "http", "TCP", 80), Assert.Single(local.Frontends));
        Assert.Equal(["10.0.0.2", "10.0.0.3"], local.Backends.Select(b => b.Ip));
        Assert.Equal([BackendState.Active, BackendState.NotReady], local.Backends.Select(b => b.State));
        Assert.Equal(new L4Addr { Protocol = "TCP", Port = 8080 }, local.Backends[0].Ports["http"]);
    }
}
