using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using Federation.NodeAgent.Datapath;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>The C# mirrors of bpf/lb_maps.h against the BTF of the object the build compiled.</summary>
[Trait("Needs", "bpf")]
public sealed partial class LbMapLayoutTests
{
    public static TheoryData<string, string> Structs => new()
    {
        { "lb_service_key", nameof(LbServiceKey) },
        { "lb_service_value", nameof(LbServiceValue) },
        { "lb_backend", nameof(LbBackendValue) },
        { "lb_revnat", nameof(LbRevNat) },
    };

    [Theory]
    [MemberData(nameof(Structs))]
    public async Task Csharp_struct_has_the_size_fields_and_offsets_of_the_c_struct(string cName, string csharpName)
    {
        var types = await BtfTypesAsync();
        var cStruct = types.Values.Single(t => t.GetProperty("kind").GetString() == "STRUCT" && t.GetProperty("name").GetString() == cName);
        var type = typeof(LbServiceKey).Assembly.GetType($"Federation.NodeAgent.Datapath.{csharpName}", throwOnError: true)!;

        var expected = cStruct.GetProperty("members").EnumerateArray()
            .Select(m => (Name: m.GetProperty("name").GetString()!, Offset: m.GetProperty("bits_offset").GetInt32() / 8, Size: SizeOf(types, m.GetProperty("type_id").GetInt32())))
            .ToList();
        var actual = type.GetFields(BindingFlags.Instance | BindingFlags.Public)
            .Select(f => (Name: SnakeCase(f.Name), Offset: (int)Marshal.OffsetOf(type, f.Name), Size: Marshal.SizeOf(f.FieldType)))
            .OrderBy(f => f.Offset)
            .ToList();

        Assert.Equal(cStruct.GetProperty("size").GetInt32(), Marshal.SizeOf(type));
        Assert.Equal(expected, actual);
    }

    private static int SizeOf(Dictionary<int, JsonElement> types, int id)
    {
        var type = types[id];
        return type.GetProperty("kind").GetString() switch
        {
            "INT" or "ENUM" or "STRUCT" or "UNION" => type.GetProperty("size").GetInt32(),
            "TYPEDEF" or "VOLATILE" or "CONST" => SizeOf(types, type.GetProperty("type_id").GetInt32()),
            "ARRAY" => type.GetProperty("nr_elems").GetInt32() * SizeOf(types, type.GetProperty("type_id").GetInt32()),
            var kind => throw new InvalidOperationException($"unexpected BTF kind {kind}"),
        };
    }

    private static string SnakeCase(string name) => Upper().Replace(name, "_$1").ToLowerInvariant();

    [GeneratedRegex("(?<!^)([A-Z])")]
    private static partial Regex Upper();

    private static async Task<Dictionary<int, JsonElement>> BtfTypesAsync()
    {
        var obj = Path.Combine(AppContext.BaseDirectory, "bpf", "lb4.o");
        Assert.True(File.Exists(obj), $"{obj} is missing: the build compiles bpf/lb4.c");
        var start = new ProcessStartInfo("bpftool", ["-j", "btf", "dump", "file", obj, "format", "raw"]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return JsonDocument.Parse(output).RootElement.GetProperty("types").EnumerateArray()
            .ToDictionary(t => t.GetProperty("id").GetInt32(), t => t.Clone());
    }
}
