using System.Collections.Immutable;
using Federation.NodeAgent.Datapath;
using Microsoft.Extensions.Logging.Abstractions;
using static Federation.NodeAgent.Tests.Datapath.RecordingLbMaps;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>
/// The write order of DESIGN §5, checked after every single map operation on recorded in-memory maps:
/// a connect() at any moment finds, for every master's count N, slots 1..N whose backends exist.
/// </summary>
public sealed class ServiceMapWriterOrderTests
{
    [Fact]
    public void A_new_service_writes_backends_then_slots_then_the_master()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);

        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2))]);

        Assert.Equal(
            ["update-backend 1", "update-backend 2", "update-service 127.96.0.1:80/6#1", "update-service 127.96.0.1:80/6#2", "update-service 127.96.0.1:80/6#0"],
            maps.Operations);
    }

    [Fact]
    public void Adding_backends_writes_the_new_slots_before_the_larger_count()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2))]);
        var before = maps.Operations.Count;

        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2), Backend(3), Backend(4))]);

        Assert.Equal(
            ["update-backend 3", "update-backend 4", "update-service 127.96.0.1:80/6#3", "update-service 127.96.0.1:80/6#4", "update-service 127.96.0.1:80/6#0"],
            maps.Operations.Skip(before));
    }

    [Fact]
    public void Removing_backends_lowers_the_count_before_deleting_slots_and_then_the_orphan_backends()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2), Backend(3), Backend(4))]);
        var before = maps.Operations.Count;

        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(3))]);

        Assert.Equal(
            [
                "update-service 127.96.0.1:80/6#2", "update-service 127.96.0.1:80/6#0",
                "delete-service 127.96.0.1:80/6#3", "delete-service 127.96.0.1:80/6#4",
                "delete-backend 2", "delete-backend 4",
            ],
            maps.Operations.Skip(before));
    }

    [Fact]
    public void Failover_to_remote_backends_rewrites_the_slots_in_place_and_removes_the_local_backends_last()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2))]);
        var before = maps.Operations.Count;

        ApplyChecked(writer, maps, [Service(0, Backend(11, cluster: 2), Backend(12, cluster: 2), Backend(13, cluster: 2))]);

        Assert.Equal(
            [
                "update-backend 3", "update-backend 4", "update-backend 5",
                "update-service 127.96.0.1:80/6#1", "update-service 127.96.0.1:80/6#2", "update-service 127.96.0.1:80/6#3",
                "update-service 127.96.0.1:80/6#0",
                "delete-backend 1", "delete-backend 2",
            ],
            maps.Operations.Skip(before));
    }

    [Fact]
    public void Removing_a_service_deletes_its_master_first_and_keeps_backends_another_service_uses()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2)), Service(1, Backend(2))]);
        var before = maps.Operations.Count;

        ApplyChecked(writer, maps, [Service(1, Backend(2))]);

        Assert.Equal(
            ["delete-service 127.96.0.1:80/6#0", "delete-service 127.96.0.1:80/6#1", "delete-service 127.96.0.1:80/6#2", "delete-backend 1"],
            maps.Operations.Skip(before));
        Assert.Equal(1, maps.BackendEntries);
    }

    [Fact]
    public void A_reused_backend_id_is_written_as_a_backend_before_any_slot_refers_to_it()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2))]);
        ApplyChecked(writer, maps, [Service(0, Backend(2))]);
        var before = maps.Operations.Count;

        // Backend 3 gets the id backend 1 had; a different backend behind the same id.
        ApplyChecked(writer, maps, [Service(0, Backend(2), Backend(3)), Service(1, Backend(3))]);

        Assert.Equal(1u, writer.BackendIds[Backend(3)]);
        Assert.Equal(
            [
                "update-backend 1",
                "update-service 127.96.0.1:80/6#2", "update-service 127.96.0.2:80/6#1",
                "update-service 127.96.0.1:80/6#0", "update-service 127.96.0.2:80/6#0",
            ],
            maps.Operations.Skip(before));
    }

    [Fact]
    public void Slots_an_interrupted_apply_left_without_a_master_are_kept_when_the_next_apply_creates_that_service()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        // Fails at the master of the new service: backends and slots are written, the master is not.
        maps.FailAfter = 5;
        Assert.Throws<BpfException>(() => writer.Apply([Service(0, Backend(1), Backend(2))]));
        Assert.Equal(["update-backend 1", "update-backend 2", "update-service 127.96.0.1:80/6#1", "update-service 127.96.0.1:80/6#2"], maps.Operations);

        // The same writer (it re-read the maps) and a restarted one both converge without deleting a live slot.
        ApplyChecked(writer, maps, [Service(0, Backend(1), Backend(2))]);
        maps.FailAfter = 5;
        Assert.Throws<BpfException>(() => writer.Apply([Service(0, Backend(1), Backend(2)), Service(1, Backend(3), Backend(4))]));
        ApplyChecked(Writer(maps), maps, [Service(0, Backend(1), Backend(2)), Service(1, Backend(3), Backend(4))]);
    }

    [Fact]
    public void Many_services_in_one_apply_keep_every_master_covered_after_every_operation()
    {
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        var first = Enumerable.Range(0, 300).Select(s => Service(s, [.. Enumerable.Range(0, 5).Select(b => Backend((s * 3) + b))])).ToList();
        ApplyChecked(writer, maps, first);

        // Half grow, a quarter shrink, a quarter fail over to other backends, and 50 services go.
        var second = Enumerable.Range(0, 250).Select(s => (s % 4) switch
        {
            0 or 1 => Service(s, [.. Enumerable.Range(0, 8).Select(b => Backend((s * 3) + b))]),
            2 => Service(s, Backend(s * 3)),
            _ => Service(s, [.. Enumerable.Range(0, 4).Select(b => Backend(2000 + (s * 4) + b, cluster: 2))]),
        }).ToList();
        ApplyChecked(writer, maps, second);

        Assert.True(maps.Checks > 3000, $"only {maps.Checks} checks");
        Assert.Equal(second.Sum(s => 1 + s.Backends.Length), maps.ServiceEntries);
    }

    [Fact]
    public void Random_sequences_of_desired_states_keep_the_invariant_and_converge_even_with_failed_writes_and_restarts()
    {
        var random = new Random(20261122);
        var maps = new RecordingLbMaps();
        var writer = Writer(maps);
        for (var round = 0; round < 400; round++)
        {
            var desired = RandomState(random);
            if (random.Next(8) == 0)
            {
                // A kernel call fails part-way: what was written stays, the writer re-reads the maps.
                maps.FailAfter = random.Next(1, 20);
                try
                {
                    writer.Apply(desired);
                }
                catch (BpfException)
                {
                }

                maps.FailAfter = null;
                Assert.True(maps.Violation is null, $"round {round}: {maps.Violation}");
            }

            if (random.Next(10) == 0)
            {
                // An agent restart: a new writer reads the maps back.
                writer = Writer(maps);
            }

            ApplyChecked(writer, maps, desired, $"round {round}");
        }

        Assert.True(maps.Checks > 5000, $"only {maps.Checks} checks");
    }

    private static List<LbService> RandomState(Random random)
    {
        var services = new List<LbService>();
        foreach (var frontend in Enumerable.Range(0, 12).Where(_ => random.Next(3) != 0))
        {
            var count = random.Next(0, 7);
            // A small pool so backends are shared between services and ids are freed and reused.
            var backends = Enumerable.Range(0, count).Select(_ => Backend(random.Next(0, 16), cluster: (ushort)random.Next(1, 3))).Distinct();
            services.Add(Service(frontend, [.. backends]));
        }

        return services;
    }

    private static ServiceMapWriter Writer(RecordingLbMaps maps) => new(maps, NullLogger<ServiceMapWriter>.Instance);

    private static LbService Service(int frontend, params LbBackend[] backends) => new(Frontend(frontend), [.. backends]);

    /// <summary>Applies, then checks the invariant held throughout and the maps serve exactly <paramref name="desired"/> with nothing left over.</summary>
    private static void ApplyChecked(ServiceMapWriter writer, RecordingLbMaps maps, IReadOnlyList<LbService> desired, string context = "")
    {
        writer.Apply(desired);

        Assert.True(maps.Violation is null, $"{context} {maps.Violation}");
        var expected = desired.ToImmutableDictionary(s => s.Frontend);
        AssertSame(expected, maps.Served(), context);
        AssertSame(expected, writer.ProgrammedServices, context);
        Assert.Equal(0, maps.UncoveredSlots());
        Assert.Equal(0, maps.UnreferencedBackends());
    }

    private static void AssertSame(ImmutableDictionary<LbFrontend, LbService> expected, ImmutableDictionary<LbFrontend, LbService> actual, string context)
    {
        Assert.True(expected.Keys.ToHashSet().SetEquals(actual.Keys), $"{context}: frontends differ");
        foreach (var (frontend, service) in expected)
        {
            Assert.True(service.Equals(actual[frontend]), $"{context}: {frontend} serves [{string.Join(", ", actual[frontend].Backends)}], expected [{string.Join(", ", service.Backends)}]");
        }
    }
}
