using System.Collections.Immutable;
using Federation.Mesh.Services;
using static Federation.Mesh.Tests.Services.ServiceFixtures;

namespace Federation.Mesh.Tests.Services;

public sealed class GlobalServiceCacheTests
{
    private readonly GlobalServiceCache _cache = new("a", 1);
    private readonly List<MergedServiceChangedEventArgs> _changes = [];

    public GlobalServiceCacheTests() => _cache.Changed += (_, change) => _changes.Add(change);

    private string Selected() => Describe(_cache.Get(Namespace, Name) ?? throw new InvalidOperationException("service unknown"));

    [Fact]
    public void Local_affinity_fails_over_to_remote_when_the_last_local_backend_goes_not_ready_and_back_when_it_returns()
    {
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1"));
        _cache.UpsertLocal(Local(affinity: ServiceAffinity.Local, backends: [HttpBackend("10.0.1.1"), HttpBackend("10.0.1.2")]));
        Assert.Equal("a/10.0.1.1:8080 a/10.0.1.2:8080", Selected());

        _cache.UpsertLocal(Local(affinity: ServiceAffinity.Local, backends: [HttpBackend("10.0.1.1"), HttpBackend("10.0.1.2", BackendState.NotReady)]));
        Assert.Equal("a/10.0.1.1:8080", Selected());

        _cache.UpsertLocal(Local(
            affinity: ServiceAffinity.Local,
            backends: [HttpBackend("10.0.1.1", BackendState.NotReady), HttpBackend("10.0.1.2", BackendState.NotReady)]));
        Assert.Equal("b/10.0.2.1:8080", Selected());
        Assert.Equal("b/10.0.2.1:8080", Describe(_changes[^1].Current));

        _cache.UpsertLocal(Local(affinity: ServiceAffinity.Local, backends: [HttpBackend("10.0.1.1", BackendState.NotReady), HttpBackend("10.0.1.2")]));
        Assert.Equal("a/10.0.1.2:8080", Selected());
        // The remote alone (no local service yet) gave nothing to program, so it raised nothing.
        Assert.Equal(
            ["a/10.0.1.1:8080 a/10.0.1.2:8080", "a/10.0.1.1:8080", "b/10.0.2.1:8080", "a/10.0.1.2:8080"],
            _changes.Select(c => Describe(c.Current)));
    }

    [Fact]
    public void Remote_affinity_fails_over_to_local_when_the_remote_cluster_has_no_backend_left()
    {
        _cache.UpsertLocal(Local(affinity: ServiceAffinity.Remote, backends: [HttpBackend("10.0.1.1")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1"));
        Assert.Equal("b/10.0.2.1:8080", Selected());

        _cache.UpsertRemote("b", HttpRemote("b", 2));
        Assert.Equal("a/10.0.1.1:8080", Selected());
    }

    [Fact]
    public void A_change_is_raised_only_when_the_selection_changes()
    {
        _cache.UpsertLocal(Local(backends: [HttpBackend("10.0.1.1")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1"));
        var before = _changes.Count;

        // A remote label edit, the same local service again, a not-ready local backend that is never selected,
        // and another service's updates change nothing for shop/cart.
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1") with { Labels = ImmutableDictionary<string, string>.Empty.Add("tier", "gold") });
        _cache.UpsertLocal(Local(backends: [HttpBackend("10.0.1.1")]));
        _cache.UpsertLocal(Local(backends: [HttpBackend("10.0.1.1"), HttpBackend("10.0.1.7", BackendState.NotReady)]));
        _cache.UpsertLocal(Local(name: "other", backends: [HttpBackend("10.0.1.5")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.5") with { Name = "other" });

        Assert.Equal(before, _changes.Count(c => c.Name == new ServiceName(Namespace, Name)));
        Assert.Equal(2, _changes.Count - before);

        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1", "10.0.2.2"));

        var change = Assert.Single(_changes.Skip(before + 2));
        Assert.Equal(new ServiceName(Namespace, Name), change.Name);
        Assert.Equal("a/10.0.1.1:8080 b/10.0.2.1:8080", Describe(change.Previous));
        Assert.Equal("a/10.0.1.1:8080 b/10.0.2.1:8080 b/10.0.2.2:8080", Describe(change.Current));
    }

    [Fact]
    public void A_remote_service_raises_nothing_while_the_local_one_is_not_global()
    {
        _cache.UpsertLocal(Local(global: false, backends: [HttpBackend("10.0.1.1")]));
        var before = _changes.Count;

        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1"));
        _cache.RemoveCluster("b");

        Assert.Equal(before, _changes.Count);
        Assert.Equal("a/10.0.1.1:8080", Selected());
    }

    [Fact]
    public void RemoveCluster_removes_its_backends_from_every_service()
    {
        _cache.UpsertLocal(Local(backends: [HttpBackend("10.0.1.1")]));
        _cache.UpsertLocal(Local(name: "other", backends: [HttpBackend("10.0.1.5")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1"));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.5") with { Name = "other" });
        _cache.UpsertRemote("c", HttpRemote("c", 3, "10.0.3.1"));

        _cache.RemoveCluster("b");

        Assert.Equal("a/10.0.1.1:8080 c/10.0.3.1:8080", Selected());
        Assert.Equal("a/10.0.1.5:8080", Describe(_cache.Get(Namespace, "other")!));
    }

    [Fact]
    public void DeleteRemote_and_DeleteLocal_forget_a_service_once_nobody_knows_it()
    {
        _cache.UpsertLocal(Local(backends: [HttpBackend("10.0.1.1")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1"));

        _cache.DeleteLocal(Namespace, Name);
        var afterLocalDelete = _cache.Get(Namespace, Name);
        _cache.DeleteRemote("b", Namespace, Name);

        Assert.NotNull(afterLocalDelete);
        Assert.Empty(afterLocalDelete.Frontends);
        Assert.Null(_cache.Get(Namespace, Name));
        Assert.Empty(_cache.Snapshot());
        Assert.Empty(_changes[^1].Current.Frontends);
    }

    [Fact]
    public void Duplicate_backend_ips_are_counted_and_exposed_until_they_go_away()
    {
        _cache.UpsertLocal(Local(backends: [HttpBackend("10.0.9.9")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.9.9"));
        _cache.UpsertRemote("c", HttpRemote("c", 3, "10.0.9.9", "10.0.3.1"));

        Assert.Equal(1, _cache.DuplicateBackendCount);
        var duplicate = Assert.Single(Assert.Single(_cache.WithDuplicates()).Duplicates);
        Assert.Equal("10.0.9.9", duplicate.Ip);
        Assert.Equal<string>(["a", "b", "c"], duplicate.Clusters);

        _cache.RemoveCluster("b");
        _cache.RemoveCluster("c");

        Assert.Equal(0, _cache.DuplicateBackendCount);
        Assert.Empty(_cache.WithDuplicates());
    }

    [Fact]
    public void Snapshot_holds_every_known_service_in_name_order()
    {
        _cache.UpsertLocal(Local(name: "zebra", backends: [HttpBackend("10.0.1.1")]));
        _cache.UpsertRemote("b", HttpRemote("b", 2, "10.0.2.1") with { Name = "apple" });

        Assert.Equal(["apple", "zebra"], _cache.Snapshot().Select(s => s.Name));
    }

    [Fact]
    public void Concurrent_updates_from_several_clusters_leave_the_same_state_as_serial_ones()
    {
        var names = Enumerable.Range(0, 40).Select(i => $"svc-{i:D2}").ToArray();
        foreach (var name in names)
        {
            _cache.UpsertLocal(Local(name: name, backends: [HttpBackend("10.0.1.1")]));
        }

        Parallel.For(0, 8, c =>
        {
            foreach (var name in names)
            {
                _cache.UpsertRemote($"c{c}", HttpRemote($"c{c}", (uint)(c + 2), $"10.1.{c}.1") with { Name = name });
            }

            if (c % 2 == 1)
            {
                _cache.RemoveCluster($"c{c}");
            }
        });

        Assert.All(
            _cache.Snapshot(),
            s => Assert.Equal("a/10.0.1.1:8080 c0/10.1.0.1:8080 c2/10.1.2.1:8080 c4/10.1.4.1:8080 c6/10.1.6.1:8080", Describe(s)));
        Assert.Equal(names.Length, _cache.Snapshot().Length);
    }
}
