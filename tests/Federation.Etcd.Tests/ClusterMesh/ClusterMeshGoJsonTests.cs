using System.Collections.Immutable;
using System.Text;
using Federation.Etcd.ClusterMesh;

namespace Federation.Etcd.Tests;

/// <summary>Go <c>encoding/json</c> details: string escaping, map key order, decoding leniency and strictness.</summary>
public sealed class ClusterMeshGoJsonTests
{
    [Theory]
    [InlineData("plain", "\"plain\"")]
    [InlineData("<a&b>", "\"\\u003ca\\u0026b\\u003e\"")]
    [InlineData("line\u2028para\u2029", "\"line\\u2028para\\u2029\"")]
    [InlineData("q\"b\\", "\"q\\\"b\\\\\"")]
    [InlineData("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"")]
    [InlineData("\u0000\u0001\u001f", "\"\\u0000\\u0001\\u001f\"")]
    [InlineData("\u007f", "\"\u007f\"")]
    [InlineData("'+/`", "\"'+/`\"")]
    [InlineData("é日本😀", "\"é日本😀\"")]
    [InlineData("\u00a0\u200b\ufeff", "\"\u00a0\u200b\ufeff\"")]
    [InlineData("ok\ufffd", "\"ok\ufffd\"")]
    public void Strings_are_escaped_as_Go_escapes_them(string value, string expected) =>
        Assert.Equal(expected, GoJsonEscaping.Quote(value));

    [Fact]
    public void Serialized_values_use_Go_escaping_in_keys_and_values_and_read_back_unchanged()
    {
        var tricky = "<a&b> \u2028 é 😀 \u0001 \"q\" \\ \b\f \u00a0\u200b\ufeff\u0085\u007f'+/";
        var service = new ClusterService
        {
            Cluster = "c1",
            Labels = ImmutableDictionary<string, string>.Empty.Add(tricky, tricky),
        };

        var bytes = ClusterMeshJson.Serialize(service);
        var text = Encoding.UTF8.GetString(bytes);
        var quoted = GoJsonEscaping.Quote(tricky);
        Assert.Contains($"\"labels\":{{{quoted}:{quoted}}}", text, StringComparison.Ordinal);
        Assert.Contains("\\u003ca\\u0026b\\u003e \\u2028 é 😀 \\u0001 \\\"q\\\" \\\\ \\b\\f \u00a0\u200b\ufeff\u0085\u007f'+/", text, StringComparison.Ordinal);

        Assert.True(ClusterMeshJson.TryDeserialize(bytes, out ClusterService? back, out var error), error);
        Assert.Equal(service, back);
        Assert.Equal(bytes, ClusterMeshJson.Serialize(back));
    }

    [Fact]
    public void Lone_surrogates_become_the_replacement_character()
    {
        // Not in InlineData: attribute strings are stored as UTF-8, which cannot hold a lone surrogate.
        var value = "bad" + '\ud800' + "x";
        Assert.Equal("\"bad\ufffdx\"", GoJsonEscaping.Quote(value));
        var service = new ClusterService { Labels = ImmutableDictionary<string, string>.Empty.Add("k", value) };
        Assert.Contains("\"labels\":{\"k\":\"bad\ufffdx\"}", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(service)), StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_bytes_are_escaped_one_by_one_as_Go_does()
    {
        byte[] json = [(byte)'"', (byte)'a', 0xff, 0xc3, (byte)'b', (byte)'"'];
        Assert.Equal("\"a\\ufffd\\ufffdb\"", Encoding.UTF8.GetString(GoJsonEscaping.Normalize(json)));
    }

    [Fact]
    public void Escaping_pass_leaves_plain_documents_alone_and_is_idempotent()
    {
        var plain = Encoding.UTF8.GetBytes("""{"a":"b","c":[1,2]}""");
        Assert.Same(plain, GoJsonEscaping.Normalize(plain));

        var messy = Encoding.UTF8.GetBytes("{\"\\u003C\\/x\":\"\\u00e9<\\uD83D\\uDE00\\u2028\"}");
        var once = GoJsonEscaping.Normalize(messy);
        Assert.Equal("{\"\\u003c/x\":\"é\\u003c😀\\u2028\"}", Encoding.UTF8.GetString(once));
        Assert.Equal(once, GoJsonEscaping.Normalize(once));
    }

    [Fact]
    public void Map_keys_are_written_in_byte_order_whatever_the_dictionary_comparer()
    {
        // UTF-16 ordinal order would put the emoji (a surrogate pair) before U+FF61; UTF-8 byte order, Go's, after.
        string[] keys = ["😀", "\uff61", "é", "b", "a", "_", "Z", "", "a0", "a-"];
        var builder = ImmutableDictionary.CreateBuilder<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var key in keys)
        {
            builder[key] = "v";
        }

        var text = Encoding.UTF8.GetString(ClusterMeshJson.Serialize(new ClusterService { Labels = builder.ToImmutable() }));
        Assert.Contains(
            "\"labels\":{\"\":\"v\",\"Z\":\"v\",\"_\":\"v\",\"a\":\"v\",\"a-\":\"v\",\"a0\":\"v\",\"b\":\"v\",\"é\":\"v\",\"\uff61\":\"v\",\"😀\":\"v\"}",
            text,
            StringComparison.Ordinal);
    }

    [Fact]
    public void Decoding_matches_property_names_case_insensitively_and_ignores_unknown_fields()
    {
        var json = """{"CLUSTER":"c2","Namespace":"ns","nAmE":"svc","clusterid":2,"SHARED":true,"somethingNew":{"x":[1,2]},"backends":{"10.0.0.1":{"tcp":{"protocol":"TCP","port":80}}}}""";
        Assert.True(ClusterMeshJson.TryDeserialize(Encoding.UTF8.GetBytes(json), out ClusterService? service, out var error), error);
        Assert.Equal(("c2", "ns", "svc", 2u, true), (service.Cluster, service.Namespace, service.Name, service.ClusterId, service.Shared));
        Assert.Equal(80, service.Backends!["10.0.0.1"]["tcp"].Port);
        Assert.Null(service.Frontends);
    }

    [Fact]
    public void Json_null_reads_as_Go_zero_values()
    {
        var json = """{"Name":null,"IPv4HealthIP":null,"Labels":null,"IPAddresses":null,"ClusterID":3}""";
        Assert.True(ClusterMeshJson.TryDeserialize(Encoding.UTF8.GetBytes(json), out Node? node, out var error), error);
        Assert.Equal(string.Empty, node.Name);
        Assert.Equal(string.Empty, node.IPv4HealthIP);
        Assert.Null(node.Labels);
        Assert.Null(node.NodeIdentity);
    }

    [Fact]
    public void Missing_fields_read_as_Go_zero_values_not_nulls()
    {
        Assert.True(ClusterMeshJson.TryDeserialize("{}"u8, out Node? node, out _));
        Assert.Equal(string.Empty, node.Source);
        Assert.True(ClusterMeshJson.TryDeserialize("{}"u8, out CiliumClusterConfig? config, out _));
        Assert.NotNull(config.Capabilities);
        Assert.Equal("""{"capabilities":{}}""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(config)));
        Assert.True(ClusterMeshJson.TryDeserialize("{}"u8, out IPIdentityPair? pair, out _));
        Assert.Equal("""{"IP":"","HostIP":"","ID":0,"Key":0,"Metadata":""}""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(pair)));
    }

    [Fact]
    public void Ip_mask_keeps_its_three_states()
    {
        Assert.True(ClusterMeshJson.TryDeserialize("""{"IP":"10.0.0.1"}"""u8, out IPIdentityPair? absent, out _));
        Assert.True(ClusterMeshJson.TryDeserialize("""{"IP":"10.0.0.1","Mask":null}"""u8, out IPIdentityPair? jsonNull, out _));
        Assert.True(ClusterMeshJson.TryDeserialize("""{"IP":"10.0.0.0","Mask":"////AA=="}"""u8, out IPIdentityPair? set, out _));
        Assert.Null(absent.Mask);
        Assert.Same(IPMask.JsonNull, jsonNull.Mask);
        Assert.Equal(24, set.Mask!.PrefixLength);
        Assert.NotEqual(absent, jsonNull);
        Assert.StartsWith("""{"IP":"10.0.0.1","HostIP":""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(absent)), StringComparison.Ordinal);
        Assert.StartsWith("""{"IP":"10.0.0.1","Mask":null,""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(jsonNull)), StringComparison.Ordinal);
        Assert.StartsWith("""{"IP":"10.0.0.0","Mask":"////AA==",""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(set)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("{\"cluster\":\"c1\",")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("\"text\"")]
    [InlineData("{} {}")]
    [InlineData("{\"clusterID\":\"x\"}")]
    [InlineData("{\"clusterID\":-1}")]
    [InlineData("{\"clusterID\":4294967296}")]
    [InlineData("{\"clusterID\":1.5}")]
    [InlineData("{\"shared\":\"true\"}")]
    [InlineData("{\"backends\":[]}")]
    [InlineData("{\"backends\":{\"10.0.0.1\":{\"tcp\":{\"Port\":65536}}}}")]
    [InlineData("{\"labels\":{\"a\":1}}")]
    [InlineData("{\"zones\":{\"10.0.0.1\":{\"forZones\":{}}}}")]
    public void Malformed_service_values_are_rejected_with_an_error(string json)
    {
        Assert.False(ClusterMeshJson.TryDeserialize(Encoding.UTF8.GetBytes(json), out ClusterService? service, out var error));
        Assert.Null(service);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Theory]
    [InlineData("{\"IP\":\"garbage\"}")]
    [InlineData("{\"IP\":\"10.0.0\"}")]
    [InlineData("{\"IP\":\"010.0.0.1\"}")]
    [InlineData("{\"IP\":\"fe80::1%eth0\"}")]
    [InlineData("{\"IP\":1}")]
    [InlineData("{\"HostIP\":\"1.2.3.256\"}")]
    [InlineData("{\"Mask\":\"not base64!\"}")]
    [InlineData("{\"Mask\":3}")]
    [InlineData("{\"ID\":\"199472\"}")]
    [InlineData("{\"Key\":256}")]
    [InlineData("{\"NamedPorts\":{}}")]
    public void Malformed_ip_values_are_rejected_with_an_error(string json)
    {
        Assert.False(ClusterMeshJson.TryDeserialize(Encoding.UTF8.GetBytes(json), out IPIdentityPair? pair, out var error));
        Assert.Null(pair);
        Assert.False(string.IsNullOrWhiteSpace(error));
    }

    [Fact]
    public void Invalid_utf8_is_rejected_not_thrown()
    {
        byte[] bytes = [(byte)'{', (byte)'"', (byte)'N', (byte)'a', (byte)'m', (byte)'e', (byte)'"', (byte)':', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)'}'];
        Assert.False(ClusterMeshJson.TryDeserialize(bytes, out Node? _, out var error));
        Assert.NotNull(error);
        Assert.False(ClusterMeshJson.TryDeserialize(bytes.AsSpan(9, 2), out IdentityLabels? _, out error));
        Assert.NotNull(error);
    }

    [Theory]
    [InlineData("10.0.0.1", "10.0.0.1")]
    [InlineData("FD00:10:244::E2D6", "fd00:10:244::e2d6")]
    [InlineData("fd00:0:0:0:0:0:0:1", "fd00::1")]
    [InlineData("::ffff:10.1.2.3", "10.1.2.3")]
    [InlineData("::1.2.3.4", "::102:304")]
    [InlineData("1:0:0:1:0:0:0:1", "1:0:0:1::1")]
    [InlineData("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0")]
    [InlineData("::", "::")]
    [InlineData("", "")]
    public void Ip_text_is_normalised_as_Go_prints_it(string input, string expected)
    {
        Assert.True(GoIPText.TryNormalize(input, out var normalized));
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("01.2.3.4")]
    [InlineData("256.1.1.1")]
    [InlineData("[::1]")]
    [InlineData("::1%lo")]
    [InlineData("1::2::3")]
    [InlineData(" 1.2.3.4")]
    public void Ip_text_Go_refuses_is_refused(string input) =>
        Assert.False(GoIPText.TryNormalize(input, out _));

    [Fact]
    public void Ip_fields_are_written_in_Go_form_and_non_addresses_are_a_bug()
    {
        var pair = new IPIdentityPair { IP = "FD00:0::0001", HostIP = "::ffff:172.18.0.2", Id = 300 };
        Assert.StartsWith("""{"IP":"fd00::1","HostIP":"172.18.0.2",""", Encoding.UTF8.GetString(ClusterMeshJson.Serialize(pair)), StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => ClusterMeshJson.Serialize(pair with { IP = "not-an-ip" }));
    }

    [Fact]
    public void Timestamps_are_written_as_Go_RFC3339_and_read_with_or_without_fractions()
    {
        Assert.Equal("2026-01-02T15:04:05Z", ClusterMeshTimestamp.Format(new DateTimeOffset(2026, 1, 2, 15, 4, 5, 123, TimeSpan.Zero)));
        Assert.Equal("2026-01-02T15:04:05+01:00", ClusterMeshTimestamp.Format(new DateTimeOffset(2026, 1, 2, 15, 4, 5, TimeSpan.FromHours(1))));

        Assert.True(ClusterMeshTimestamp.TryParse("2026-01-02T15:04:05.123456789Z", out var precise));
        Assert.Equal(new DateTimeOffset(2026, 1, 2, 15, 4, 5, TimeSpan.Zero).AddTicks(1234567), precise);
        Assert.True(ClusterMeshTimestamp.TryParse("2026-01-02T15:04:05-07:00"u8, out var offset));
        Assert.Equal(TimeSpan.FromHours(-7), offset!.Value.Offset);
        Assert.False(ClusterMeshTimestamp.TryParse("synced", out _));
        Assert.False(ClusterMeshTimestamp.TryParse("2026-01-02 15:04:05", out _));
    }
}
