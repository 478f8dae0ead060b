using Federation.Mesh.Services;
using static Federation.Mesh.Tests.Services.ServiceFixtures;

namespace Federation.Mesh.Tests.Services;

public sealed class GlobalServiceMergeTests
{
    [Fact]
    public void Remote_backends_join_the_local_frontend_with_the_same_port_name_and_protocol()
    {
        var local = Local(
            frontends: [Frontend("10.96.0.10", 80, "http"), Frontend("10.96.0.10", 53, "dns", "UDP"), Frontend("10.96.0.10", 9090, "metrics")],
            backends: [Backend("10.0.1.1", BackendState.Active, ("http", "TCP", 8080), ("dns", "UDP", 5353), ("metrics", "TCP", 9100))]);
        var remote = RemoteService("b", 2, backends:
        [
            ("10.0.2.1", [("http", "TCP", 8081), ("dns", "TCP", 53)]),
            ("10.0.2.2", [("dns", "UDP", 5354), ("admin", "TCP", 9000)]),
        ]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(remote), 1, "a");

        Assert.Equal(
            ["10.96.0.10:53/UDP dns", "10.96.0.10:80/TCP http", "10.96.0.10:9090/TCP metrics"],
            merged.Frontends.Select(f => $"{f.Ip}:{f.Port}/{f.Protocol} {f.PortName}"));
        // dns over TCP on 10.0.2.1 does not serve the UDP frontend; the remote "admin" port has no frontend.
        Assert.Equal("a/10.0.1.1:5353 b/10.0.2.2:5354", Describe(merged.Frontends[0]));
        Assert.Equal("a/10.0.1.1:8080 b/10.0.2.1:8081", Describe(merged.Frontends[1]));
        Assert.Equal("a/10.0.1.1:9100", Describe(merged.Frontends[2]));
    }

    [Fact]
    public void Unnamed_ports_match_each_other()
    {
        var local = Local(frontends: [Frontend("10.96.0.10", 80, "")], backends: [Backend("10.0.1.1", BackendState.Active, ("", "TCP", 8080))]);
        var remote = RemoteService("b", 2, backends: [("10.0.2.1", [("", "TCP", 8080)])]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(remote), 1, "a");

        Assert.Equal("a/10.0.1.1:8080 b/10.0.2.1:8080", Describe(merged));
    }

    [Fact]
    public void Terminating_backends_are_used_only_when_no_backend_anywhere_is_active()
    {
        var backends = new[] { HttpBackend("10.0.1.1", BackendState.Terminating), HttpBackend("10.0.1.2", BackendState.NotReady) };

        var withRemote = GlobalServiceMerge.Compute(Local(backends: backends), Remotes(HttpRemote("b", 2, "10.0.2.1")), 1, "a");
        var remoteEmpty = GlobalServiceMerge.Compute(Local(backends: backends), Remotes(HttpRemote("b", 2)), 1, "a");
        var localActiveToo = GlobalServiceMerge.Compute(
            Local(backends: [.. backends, HttpBackend("10.0.1.3")]), Remotes(HttpRemote("b", 2)), 1, "a");

        Assert.Equal("b/10.0.2.1:8080", Describe(withRemote));
        Assert.Equal("a/10.0.1.1:8080", Describe(remoteEmpty));
        Assert.Equal(BackendState.Terminating, Assert.Single(Assert.Single(remoteEmpty.Frontends).Backends).State);
        Assert.Equal("a/10.0.1.3:8080", Describe(localActiveToo));
    }

    [Fact]
    public void Terminating_local_backends_lose_to_remote_active_ones_even_with_local_affinity()
    {
        var local = Local(affinity: ServiceAffinity.Local, backends: [HttpBackend("10.0.1.1", BackendState.Terminating)]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(HttpRemote("b", 2, "10.0.2.1")), 1, "a");

        Assert.Equal("b/10.0.2.1:8080", Describe(merged));
    }

    [Fact]
    public void Not_ready_backends_are_never_used()
    {
        var local = Local(backends: [HttpBackend("10.0.1.1", BackendState.NotReady)]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(), 1, "a");

        Assert.Empty(Assert.Single(merged.Frontends).Backends);
    }

    [Fact]
    public void A_backend_ip_claimed_by_two_clusters_is_reported_with_both()
    {
        var local = Local(backends: [HttpBackend("10.0.1.1"), HttpBackend("10.0.9.9")]);
        var remotes = Remotes(HttpRemote("b", 2, "10.0.9.9", "10.0.2.1"), HttpRemote("c", 3, "10.0.2.1"));

        var merged = GlobalServiceMerge.Compute(local, remotes, 1, "a");

        Assert.Equal(
            ["10.0.2.1 b,c", "10.0.9.9 a,b"],
            merged.Duplicates.Select(d => $"{d.Ip} {string.Join(",", d.Clusters)}"));
    }

    [Fact]
    public void Backends_of_a_remote_that_may_not_contribute_are_not_reported_as_duplicates()
    {
        var local = Local(backends: [HttpBackend("10.0.9.9")]);
        var notShared = RemoteService("b", 2, shared: false, backends: [("10.0.9.9", [("http", "TCP", 8080)])]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(notShared), 1, "a");

        Assert.Empty(merged.Duplicates);
    }

    [Fact]
    public void Backends_are_ordered_local_cluster_first_then_by_cluster_id_then_ip_then_port()
    {
        // The local cluster has the highest ID; IPs compare ordinally ("10.0.0.10" < "10.0.0.9").
        var local = Local(
            frontends: [Frontend("10.96.0.10", 80)],
            backends: [HttpBackend("10.0.5.9"), HttpBackend("10.0.5.10")]);
        var remotes = Remotes(
            HttpRemote("zeta", 1, "10.0.1.9", "10.0.1.10"),
            HttpRemote("beta", 7, "10.0.7.1"),
            HttpRemote("alpha", 3, "10.0.3.1"));

        var merged = GlobalServiceMerge.Compute(local, remotes, 9, "local");

        Assert.Equal(
            "local/10.0.5.10:8080 local/10.0.5.9:8080 zeta/10.0.1.10:8080 zeta/10.0.1.9:8080 alpha/10.0.3.1:8080 beta/10.0.7.1:8080",
            Describe(merged));
        Assert.Equal([9u, 9u, 1u, 1u, 3u, 7u], merged.Frontends[0].Backends.Select(b => b.ClusterId));
    }

    [Fact]
    public void Without_a_local_service_there_is_nothing_to_program()
    {
        var merged = GlobalServiceMerge.Compute(null, Remotes(HttpRemote("b", 2, "10.0.2.1")), 1, "a");

        Assert.Equal((Namespace, Name), (merged.Namespace, merged.Name));
        Assert.Empty(merged.Frontends);
        Assert.Empty(merged.Duplicates);
    }

    [Fact]
    public void A_remote_entry_named_like_the_local_cluster_is_ignored()
    {
        var merged = GlobalServiceMerge.Compute(Local(backends: [HttpBackend("10.0.1.1")]), Remotes(HttpRemote("a", 1, "10.0.1.2")), 1, "a");

        Assert.Equal("a/10.0.1.1:8080", Describe(merged));
    }

    [Fact]
    public void Equal_inputs_in_a_different_order_give_equal_merged_values()
    {
        var first = GlobalServiceMerge.Compute(
            Local(backends: [HttpBackend("10.0.1.1"), HttpBackend("10.0.1.2")]),
            Remotes(HttpRemote("b", 2, "10.0.2.1", "10.0.2.2"), HttpRemote("c", 3, "10.0.1.1")),
            1,
            "a");
        var second = GlobalServiceMerge.Compute(
            Local(backends: [HttpBackend("10.0.1.2"), HttpBackend("10.0.1.1")]),
            Remotes(HttpRemote("c", 3, "10.0.1.1"), HttpRemote("b", 2, "10.0.2.2", "10.0.2.1")),
            1,
            "a");
        var different = GlobalServiceMerge.Compute(Local(backends: [HttpBackend("10.0.1.1")]), Remotes(), 1, "a");

        Assert.Equal(first, second);
        Assert.Equal(first.GetHashCode(), second.GetHashCode());
        Assert.NotEqual(first, different);
    }
}
