using System.Text;
using System.Text.Json;
using Federation.Etcd.ClusterMesh;
using Xunit.Abstractions;

namespace Federation.Etcd.Tests;

public sealed class ClusterMeshRoundTripTests(ITestOutputHelper output)
{
    [Fact]
    public void Fixture_loader_finds_values_of_every_kind()
    {
        var values = CiliumFixtures.Values;
        foreach (var group in values.GroupBy(v => (v.Kind, v.Origin)).OrderBy(g => g.Key))
        {
            output.WriteLine($"{group.Key.Kind,-14} {group.Key.Origin,-16} {group.Count(),4} values");
        }

        Assert.Empty(values.Where(v => v.Kind == FixtureKind.Unknown).Select(v => v.ToString()));
        var cilium = values.Where(v => v.Origin == FixtureOrigin.WrittenByCilium).ToList();
        Assert.True(cilium.Count(v => v.Kind == FixtureKind.ClusterConfig) >= 10, "cluster configs");
        Assert.True(cilium.Count(v => v.Kind == FixtureKind.Node) >= 10, "nodes");
        Assert.True(cilium.Count(v => v.Kind == FixtureKind.Service) >= 8, "services");
        Assert.True(cilium.Count(v => v.Kind == FixtureKind.Identity) >= 10, "identities");
        Assert.True(cilium.Count(v => v.Kind == FixtureKind.Ip) >= 100, "ip entries");
        Assert.True(values.Count(v => v.Origin == FixtureOrigin.InputFile) >= 10, "input files");
        Assert.True(values.Count(v => v.Origin == FixtureOrigin.WrittenByTest) >= 10, "test writes");
    }

    [Fact]
    public void Every_fixture_value_Cilium_wrote_round_trips_byte_for_byte()
    {
        var failures = new List<string>();
        var checkedByKind = new Dictionary<FixtureKind, int>();
        foreach (var fixture in CiliumFixtures.Values.Where(v => v.Origin == FixtureOrigin.WrittenByCilium))
        {
            if (!TryRoundTrip(fixture, out var written, out var error))
            {
                failures.Add(error is null ? $"{fixture}: not handled" : $"{fixture}: {error}");
                continue;
            }

            if (written is null)
            {
                continue;
            }

            checkedByKind[fixture.Kind] = checkedByKind.GetValueOrDefault(fixture.Kind) + 1;
            if (!written.AsSpan().SequenceEqual(fixture.Value))
            {
                failures.Add($"{fixture}:\n  cilium: {fixture.ValueText}\n  ours:   {Encoding.UTF8.GetString(written)}");
            }
        }

        foreach (var (kind, count) in checkedByKind.OrderBy(p => p.Key))
        {
            output.WriteLine($"{kind}: {count} values reproduced byte for byte");
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
        foreach (var kind in new[] { FixtureKind.ClusterConfig, FixtureKind.Node, FixtureKind.Service, FixtureKind.Identity, FixtureKind.Ip })
        {
            Assert.True(checkedByKind.GetValueOrDefault(kind) > 0, $"no {kind} value was checked");
        }
    }

    [Fact]
    public void Values_written_by_tests_decode_and_reencode_compactly_with_every_field_kept()
    {
        var failures = new List<string>();
        var checkedCount = 0;
        foreach (var fixture in CiliumFixtures.Values.Where(v => v.Origin != FixtureOrigin.WrittenByCilium))
        {
            if (!TryRoundTrip(fixture, out var written, out var error))
            {
                failures.Add($"{fixture}: {error}");
                continue;
            }

            if (written is null)
            {
                continue;
            }

            checkedCount++;
            if (fixture.Kind == FixtureKind.Identity)
            {
                continue;
            }

            // Go's form is a fixed point: decoding our output and writing it again changes nothing.
            if (!TryRoundTrip(fixture with { Value = written }, out var again, out error) || !again!.AsSpan().SequenceEqual(written))
            {
                failures.Add($"{fixture}: output is not stable ({error})");
            }

            if (written.Contains((byte)'\n') || written.Contains((byte)' '))
            {
                failures.Add($"{fixture}: output is not compact: {Encoding.UTF8.GetString(written)}");
            }

            if (!Equals(Decode(fixture with { Value = written }), Decode(fixture)))
            {
                failures.Add($"{fixture}: decoding our output gives a different value");
            }

            using var input = JsonDocument.Parse(fixture.Value);
            using var result = JsonDocument.Parse(written);
            if (!ContainsAll(input.RootElement, result.RootElement, "$", out var difference))
            {
                failures.Add($"{fixture}: {difference}\n  input: {fixture.ValueText}\n  ours:  {Encoding.UTF8.GetString(written)}");
            }
        }

        output.WriteLine($"{checkedCount} test-written values checked");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(checkedCount >= 20, $"only {checkedCount} test-written values were checked");
    }

    [Fact]
    public void Pretty_printed_input_files_decode_to_the_same_value_as_their_compact_writes()
    {
        var inputs = CiliumFixtures.Values.Where(v => v.Origin == FixtureOrigin.InputFile && v.Kind != FixtureKind.OutOfScope).ToList();
        var pretty = 0;
        foreach (var input in inputs)
        {
            pretty += input.Value.Contains((byte)'\n') ? 1 : 0;
            var writes = CiliumFixtures.Values
                .Where(v => v.Origin == FixtureOrigin.WrittenByTest && v.Scenario == input.Scenario && v.Key == input.Key)
                .ToList();
            Assert.NotEmpty(writes);
            var decoded = Decode(input);
            Assert.Contains(writes, w => Equals(Decode(w), decoded));
        }

        Assert.True(pretty >= 5, "expected several pretty-printed inputs");
    }

    [Fact]
    public void Tampered_cluster_config_written_by_the_test_keeps_Cilium_bytes()
    {
        // The clusterconfig test edits Cilium's raw bytes ("id":3 -> "id":5), so its write is in Go's form too.
        var write = CiliumFixtures.Values.Single(v => v.Scenario == "clusterconfig" && v.Origin == FixtureOrigin.WrittenByTest);
        Assert.True(ClusterMeshJson.TryDeserialize(write.Value, out CiliumClusterConfig? config, out var error), error);
        Assert.Equal(5u, config.Id);
        Assert.Equal(write.Value, ClusterMeshJson.Serialize(config));
    }

    [Fact]
    public void Derived_kvstoremesh_cluster_configs_round_trip_byte_for_byte()
    {
        var lines = File.ReadAllLines(CiliumFixtures.PathOf("kvstoremesh-reflection", "cases.txt")).Where(l => !l.StartsWith('#')).ToList();
        Assert.Equal(4, lines.Count);
        foreach (var line in lines)
        {
            var fields = line.Split('\t');
            foreach (var json in new[] { fields[2], fields[3] })
            {
                var bytes = Encoding.UTF8.GetBytes(json);
                Assert.True(ClusterMeshJson.TryDeserialize(bytes, out CiliumClusterConfig? config, out var error), error);
                Assert.Equal(json, Encoding.UTF8.GetString(ClusterMeshJson.Serialize(config)));
            }

            // The local copy gains syncedCanaries and cached, and keeps id and serviceExportsEnabled.
            Assert.True(ClusterMeshJson.TryDeserialize(Encoding.UTF8.GetBytes(fields[2]), out CiliumClusterConfig? remote, out _));
            Assert.True(ClusterMeshJson.TryDeserialize(Encoding.UTF8.GetBytes(fields[3]), out CiliumClusterConfig? local, out _));
            Assert.Equal(
                local,
                remote with { Capabilities = remote.Capabilities with { SyncedCanaries = true, Cached = true } });
        }
    }

    // Decodes and re-encodes one fixture value. written is null for values these types do not model.
    private static bool TryRoundTrip(FixtureValue fixture, out byte[]? written, out string? error)
    {
        written = null;
        error = null;
        switch (fixture.Kind)
        {
            case FixtureKind.ClusterConfig when ClusterMeshJson.TryDeserialize(fixture.Value, out CiliumClusterConfig? config, out error):
                written = ClusterMeshJson.Serialize(config);
                return true;
            case FixtureKind.Node when ClusterMeshJson.TryDeserialize(fixture.Value, out Node? node, out error):
                written = ClusterMeshJson.Serialize(node);
                return true;
            case FixtureKind.Service when ClusterMeshJson.TryDeserialize(fixture.Value, out ClusterService? service, out error):
                written = ClusterMeshJson.Serialize(service);
                return true;
            case FixtureKind.Ip when ClusterMeshJson.TryDeserialize(fixture.Value, out IPIdentityPair? pair, out error):
                written = ClusterMeshJson.Serialize(pair);
                return true;
            case FixtureKind.Identity when ClusterMeshJson.TryDeserialize(fixture.Value, out IdentityLabels? labels, out error):
                written = ClusterMeshJson.Serialize(labels);
                return true;
            case FixtureKind.Timestamp:
                if (!ClusterMeshTimestamp.TryParse(fixture.ValueText, out _))
                {
                    error = "not an RFC 3339 time";
                    return false;
                }

                return true;
            case FixtureKind.OutOfScope:
                return true;
            default:
                error ??= $"unexpected kind {fixture.Kind}";
                return false;
        }
    }

    private static object? Decode(FixtureValue fixture)
    {
        object? value = fixture.Kind switch
        {
            FixtureKind.ClusterConfig => ClusterMeshJson.TryDeserialize(fixture.Value, out CiliumClusterConfig? c, out _) ? c : null,
            FixtureKind.Node => ClusterMeshJson.TryDeserialize(fixture.Value, out Node? n, out _) ? n : null,
            FixtureKind.Service => ClusterMeshJson.TryDeserialize(fixture.Value, out ClusterService? s, out _) ? s : null,
            FixtureKind.Ip => ClusterMeshJson.TryDeserialize(fixture.Value, out IPIdentityPair? p, out _) ? p : null,
            _ => null,
        };
        Assert.NotNull(value);
        return value;
    }

    // Every property of expected (matched case-insensitively, as Go decodes) is in actual with an equal value.
    private static bool ContainsAll(JsonElement expected, JsonElement actual, string path, out string difference)
    {
        difference = string.Empty;
        switch (expected.ValueKind)
        {
            case JsonValueKind.Object:
                if (actual.ValueKind != JsonValueKind.Object)
                {
                    difference = $"{path}: expected an object";
                    return false;
                }

                foreach (var property in expected.EnumerateObject())
                {
                    var match = actual.EnumerateObject().Where(p => string.Equals(p.Name, property.Name, StringComparison.OrdinalIgnoreCase)).ToList();
                    if (match.Count != 1)
                    {
                        difference = $"{path}.{property.Name}: missing from the output";
                        return false;
                    }

                    if (!ContainsAll(property.Value, match[0].Value, $"{path}.{property.Name}", out difference))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Array:
                if (actual.ValueKind != JsonValueKind.Array || actual.GetArrayLength() != expected.GetArrayLength())
                {
                    difference = $"{path}: array differs";
                    return false;
                }

                for (var i = 0; i < expected.GetArrayLength(); i++)
                {
                    if (!ContainsAll(expected[i], actual[i], $"{path}[{i}]", out difference))
                    {
                        return false;
                    }
                }

                return true;
            default:
                if (expected.ValueKind != actual.ValueKind || expected.GetRawText() != actual.GetRawText())
                {
                    difference = $"{path}: {expected.GetRawText()} became {actual.GetRawText()}";
                    return false;
                }

                return true;
        }
    }
}
