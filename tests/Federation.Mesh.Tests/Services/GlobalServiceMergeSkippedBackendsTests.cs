using Federation.Mesh.Services;
using static Federation.Mesh.Tests.Services.ServiceFixtures;

namespace Federation.Mesh.Tests.Services;

/// <summary>Backends no datapath can use are left out before affinity, so they never hold a service on their cluster.</summary>
public sealed class GlobalServiceMergeSkippedBackendsTests
{
    [Fact]
    public void Affinity_local_with_only_unusable_local_backends_fails_over_to_the_remote_ones()
    {
        var local = Local(
            affinity: ServiceAffinity.Local,
            backends: [HttpBackend("not-an-ip"), HttpBackend("fd00::1"), Backend("10.0.1.3", BackendState.Active, ("http", "TCP", 0))]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(HttpRemote("b", 2, "10.0.2.1", "10.0.2.2")), 1, "a");

        Assert.Equal("b/10.0.2.1:8080 b/10.0.2.2:8080", Describe(merged));
        Assert.Equal(
            ["a/10.0.1.3:0 port-zero", "a/fd00::1:8080 ipv6", "a/not-an-ip:8080 invalid-address"],
            Skipped(Assert.Single(merged.Frontends)));
    }

    [Fact]
    public void Affinity_local_keeps_a_usable_local_backend_next_to_unusable_ones()
    {
        var local = Local(affinity: ServiceAffinity.Local, backends: [HttpBackend("not-an-ip"), HttpBackend("10.0.1.2")]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(HttpRemote("b", 2, "10.0.2.1")), 1, "a");

        Assert.Equal("a/10.0.1.2:8080", Describe(merged));
        Assert.Equal(["a/not-an-ip:8080 invalid-address"], Skipped(Assert.Single(merged.Frontends)));
    }

    [Fact]
    public void Affinity_remote_with_only_unusable_remote_backends_fails_over_to_the_local_ones()
    {
        var local = Local(affinity: ServiceAffinity.Remote, backends: [HttpBackend("10.0.1.1")]);
        var remote = RemoteService("b", 2, backends:
        [
            ("10.0.2.999", [("http", "TCP", 8080)]),
            ("10.0.2.2", [("http", "TCP", 0)]),
            ("fd00::2", [("http", "TCP", 8080)]),
        ]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(remote), 1, "a");

        Assert.Equal("a/10.0.1.1:8080", Describe(merged));
        Assert.Equal(
            ["b/10.0.2.2:0 port-zero", "b/10.0.2.999:8080 invalid-address", "b/fd00::2:8080 ipv6"],
            Skipped(Assert.Single(merged.Frontends)));
    }

    [Fact]
    public void Unusable_terminating_backends_are_not_the_last_resort_and_not_ready_ones_are_not_reported()
    {
        var local = Local(
            affinity: ServiceAffinity.Local,
            backends: [HttpBackend("fd00::1", BackendState.Terminating), HttpBackend("bad", BackendState.NotReady)]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(), 1, "a");

        var frontend = Assert.Single(merged.Frontends);
        Assert.Empty(frontend.Backends);
        Assert.Equal(["a/fd00::1:8080 ipv6"], Skipped(frontend));
    }

    [Fact]
    public void An_ipv6_frontend_keeps_ipv6_backends_and_reports_ipv4_ones()
    {
        var local = Local(frontends: [Frontend("fd00:96::10", 80)], backends: [HttpBackend("fd00::1"), HttpBackend("10.0.1.1")]);

        var merged = GlobalServiceMerge.Compute(local, Remotes(), 1, "a");

        Assert.Equal("a/fd00::1:8080", Describe(merged));
        Assert.Equal(["a/10.0.1.1:8080 ipv4"], Skipped(Assert.Single(merged.Frontends)));
    }

    [Fact]
    public void Skipped_backends_take_part_in_equality_so_a_change_of_them_is_a_change()
    {
        var remotes = Remotes(HttpRemote("b", 2, "10.0.2.1"));
        var clean = GlobalServiceMerge.Compute(Local(backends: [HttpBackend("10.0.1.1")]), remotes, 1, "a");
        var withBad = GlobalServiceMerge.Compute(Local(backends: [HttpBackend("10.0.1.1"), HttpBackend("bad")]), remotes, 1, "a");
        var again = GlobalServiceMerge.Compute(Local(backends: [HttpBackend("bad"), HttpBackend("10.0.1.1")]), remotes, 1, "a");

        Assert.Equal(Describe(clean), Describe(withBad));
        Assert.NotEqual(clean, withBad);
        Assert.Equal(withBad, again);
        Assert.Equal(withBad.GetHashCode(), again.GetHashCode());
    }

    private static string[] Skipped(MergedFrontend frontend) =>
        [.. frontend.SkippedBackends.Select(b => $"{b.Cluster}/{b.Ip}:{b.Port} {b.Reason}")];
}
