using System.Text;
using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

/// <summary>Who produced a fixture value, which decides how exactly we must reproduce it.</summary>
internal enum FixtureOrigin
{
    /// <summary>Read back from etcd after Cilium wrote it (expected-kvstore.txt, steps/*.txt): exact Go bytes.</summary>
    WrittenByCilium,

    /// <summary>Written into etcd by the upstream test itself (kvstore-writes.txt): compact, but field order is the author's.</summary>
    WrittenByTest,

    /// <summary>A file the upstream test wrote verbatim (input/kvstore/*): often pretty-printed by hand.</summary>
    InputFile,
}

/// <summary>What a fixture key holds, from its prefix.</summary>
internal enum FixtureKind
{
    ClusterConfig,
    Node,
    Service,
    Identity,
    Ip,
    Timestamp,

    /// <summary>Endpoint slices (zstd protobuf) and service exports: not handled by these types yet.</summary>
    OutOfScope,
    Unknown,
}

internal sealed record FixtureValue(string Scenario, string File, int Line, string Key, byte[] Value, FixtureOrigin Origin)
{
    public FixtureKind Kind => CiliumFixtures.KindOf(Key);

    public string ValueText => Encoding.UTF8.GetString(Value);

    public override string ToString() => $"{Scenario}/{File}:{Line} {Key}";
}

/// <summary>
/// Reads the Cilium golden data in shared/fixtures/cilium at run time (never copied into the repo).
/// The folder is found by walking up from the test binary; not finding it fails the test.
/// </summary>
internal static class CiliumFixtures
{
    private static readonly Lazy<string> RootPath = new(Locate);
    private static readonly Lazy<IReadOnlyList<FixtureValue>> AllValues = new(LoadAll);

    public static string Root => RootPath.Value;

    public static IReadOnlyList<FixtureValue> Values => AllValues.Value;

    public static string PathOf(params string[] parts) => Path.Combine([Root, .. parts]);

    public static FixtureKind KindOf(string key) => key switch
    {
        _ when key.StartsWith(ClusterMeshKeys.ClusterConfigPrefix + "/", StringComparison.Ordinal) => FixtureKind.ClusterConfig,
        _ when key.StartsWith(ClusterMeshKeys.NodesPrefix + "/", StringComparison.Ordinal) => FixtureKind.Node,
        _ when key.StartsWith(ClusterMeshKeys.ServicesPrefix + "/", StringComparison.Ordinal) => FixtureKind.Service,
        _ when key.StartsWith(ClusterMeshKeys.IdentitiesPrefix + "/id/", StringComparison.Ordinal) => FixtureKind.Identity,
        _ when key.StartsWith(ClusterMeshKeys.IpPrefix + "/", StringComparison.Ordinal) => FixtureKind.Ip,
        _ when key.StartsWith(ClusterMeshKeys.SyncedPrefix + "/", StringComparison.Ordinal) || key == ClusterMeshKeys.Heartbeat => FixtureKind.Timestamp,
        _ when key.StartsWith("cilium/state/endpointslices/", StringComparison.Ordinal)
            || key.StartsWith("cilium/state/serviceexports/", StringComparison.Ordinal) => FixtureKind.OutOfScope,
        _ => FixtureKind.Unknown,
    };

    /// <summary>The value of <paramref name="key"/> in a scenario's expected-kvstore.txt.</summary>
    public static byte[] ExpectedValue(string scenario, string key) =>
        Values.FirstOrDefault(v => v.Scenario == scenario && v.File == "expected-kvstore.txt" && v.Key == key)?.Value
        ?? throw new InvalidOperationException($"{scenario}/expected-kvstore.txt has no key {key}");

    /// <summary>"key\tvalue" lines (or keys alone) of a fixture file, as exact bytes.</summary>
    public static IEnumerable<(int Line, string Key, byte[]? Value)> ReadRecords(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var line = 0;
        var start = 0;
        while (start < bytes.Length)
        {
            var end = Array.IndexOf(bytes, (byte)'\n', start);
            if (end < 0)
            {
                end = bytes.Length;
            }

            line++;
            var record = bytes.AsSpan(start, end - start);
            start = end + 1;
            if (record.IsEmpty || record[0] == (byte)'#')
            {
                continue;
            }

            var tab = record.IndexOf((byte)'\t');
            if (tab < 0)
            {
                yield return (line, Encoding.UTF8.GetString(record), null);
            }
            else
            {
                yield return (line, Encoding.UTF8.GetString(record[..tab]), record[(tab + 1)..].ToArray());
            }
        }
    }

    private static string Locate()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "fixtures", "cilium");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            $"Cilium fixtures not found: no directory above {AppContext.BaseDirectory} contains shared/fixtures/cilium " +
            "(the repository's parent directory should hold shared/ beside main/).");
    }

    private static List<FixtureValue> LoadAll()
    {
        var values = new List<FixtureValue>();
        foreach (var scenarioDir in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            var scenario = Path.GetFileName(scenarioDir);
            AddFile(values, scenario, scenarioDir, "expected-kvstore.txt", FixtureOrigin.WrittenByCilium);
            var stepsDir = Path.Combine(scenarioDir, "steps");
            if (Directory.Exists(stepsDir))
            {
                foreach (var step in Directory.GetFiles(stepsDir, "*.txt").Order(StringComparer.Ordinal))
                {
                    AddFile(values, scenario, scenarioDir, Path.Combine("steps", Path.GetFileName(step)), FixtureOrigin.WrittenByCilium);
                }
            }

            AddFile(values, scenario, scenarioDir, "kvstore-writes.txt", FixtureOrigin.WrittenByTest);
            AddInputFiles(values, scenario, scenarioDir);
        }

        return values;
    }

    private static void AddFile(List<FixtureValue> values, string scenario, string scenarioDir, string file, FixtureOrigin origin)
    {
        var path = Path.Combine(scenarioDir, file);
        if (!File.Exists(path))
        {
            return;
        }

        var records = ReadRecords(path).ToList();
        var keyed = records.Count(r => r.Value is not null);
        if (keyed == 0)
        {
            // A keys-only checkpoint (expect-keys): nothing to decode.
            return;
        }

        if (keyed != records.Count)
        {
            throw new InvalidOperationException($"{scenario}/{file} mixes key-only lines and key/value lines");
        }

        values.AddRange(records.Select(r => new FixtureValue(scenario, file, r.Line, r.Key, r.Value!, origin)));
    }

    // input/kvstore files get their key from the steps.txt line that writes them: "kvstore/update <key> <file>".
    private static void AddInputFiles(List<FixtureValue> values, string scenario, string scenarioDir)
    {
        var steps = Path.Combine(scenarioDir, "steps.txt");
        if (!File.Exists(steps))
        {
            return;
        }

        var seen = new HashSet<(string, string)>();
        foreach (var line in File.ReadLines(steps))
        {
            var fields = line.Split('\t');
            if (fields.Length < 3 || fields[0] != "kvstore/update" || !seen.Add((fields[1], fields[2])))
            {
                continue;
            }

            values.Add(new FixtureValue(scenario, fields[2], 1, fields[1], File.ReadAllBytes(Path.Combine(scenarioDir, fields[2])), FixtureOrigin.InputFile));
        }
    }
}
