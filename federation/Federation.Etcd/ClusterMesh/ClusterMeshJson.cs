using System.Collections.Immutable;
using System.Diagnostics.CodeAnalysis;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Federation.Etcd.ClusterMesh;

/// <summary>
/// Reads and writes ClusterMesh etcd values exactly as Cilium (Go <c>encoding/json</c>) does: compact,
/// fields in declaration order, map keys sorted byte-wise, Go's string escaping; property names read
/// case-insensitively, unknown fields ignored. Decoding never throws: bad input is a false result
/// with a short error. Encoding throws <see cref="InvalidOperationException"/> only for a value Go
/// could not hold (an IP field that is not an address): a bug in the caller.
/// </summary>
public static class ClusterMeshJson
{
    private static readonly JsonSerializerOptions Options = CreateOptions();

    private static readonly JsonTypeInfo<CiliumClusterConfig> ClusterConfigInfo = Info<CiliumClusterConfig>();
    private static readonly JsonTypeInfo<ClusterService> ServiceInfo = Info<ClusterService>();
    private static readonly JsonTypeInfo<Node> NodeInfo = Info<Node>();
    private static readonly JsonTypeInfo<IPIdentityPair> IpInfo = Info<IPIdentityPair>();

    public static byte[] Serialize(CiliumClusterConfig value) => Write(value, ClusterConfigInfo);

    public static byte[] Serialize(ClusterService value) => Write(value, ServiceInfo);

    public static byte[] Serialize(Node value) => Write(value, NodeInfo);

    public static byte[] Serialize(IPIdentityPair value) => Write(value, IpInfo);

    /// <summary>Identity values are not JSON: the label string's UTF-8 bytes.</summary>
    public static byte[] Serialize(IdentityLabels value) => value.ToUtf8Bytes();

    public static bool TryDeserialize(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out CiliumClusterConfig? value, [NotNullWhen(false)] out string? error) =>
        TryRead(utf8, ClusterConfigInfo, out value, out error);

    public static bool TryDeserialize(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out ClusterService? value, [NotNullWhen(false)] out string? error) =>
        TryRead(utf8, ServiceInfo, out value, out error);

    public static bool TryDeserialize(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out Node? value, [NotNullWhen(false)] out string? error) =>
        TryRead(utf8, NodeInfo, out value, out error);

    public static bool TryDeserialize(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out IPIdentityPair? value, [NotNullWhen(false)] out string? error) =>
        TryRead(utf8, IpInfo, out value, out error);

    public static bool TryDeserialize(ReadOnlySpan<byte> utf8, [NotNullWhen(true)] out IdentityLabels? value, [NotNullWhen(false)] out string? error) =>
        IdentityLabels.TryParse(utf8, out value, out error);

    private static byte[] Write<T>(T value, JsonTypeInfo<T> info)
    {
        ArgumentNullException.ThrowIfNull(value);
        return GoJsonEscaping.Normalize(JsonSerializer.SerializeToUtf8Bytes(value, info));
    }

    private static bool TryRead<T>(ReadOnlySpan<byte> utf8, JsonTypeInfo<T> info, [NotNullWhen(true)] out T? value, [NotNullWhen(false)] out string? error)
        where T : class
    {
        value = null;
        try
        {
            value = JsonSerializer.Deserialize(utf8, info);
        }
        catch (JsonException e)
        {
            error = Describe(e);
            return false;
        }
        catch (Exception e) when (e is InvalidOperationException or NotSupportedException or ArgumentException or FormatException or OverflowException)
        {
            // Not expected from the converters here, but a decode must never take the caller down.
            error = $"invalid value: {e.Message}";
            return false;
        }

        if (value is null)
        {
            error = "value is JSON null";
            return false;
        }

        error = null;
        return true;
    }

    private static string Describe(JsonException e)
    {
        var where = e.Path is { Length: > 0 } path ? $" at {path}" : string.Empty;
        var message = e.InnerException?.Message ?? e.Message;

        // The serializer's own messages repeat the path and line; keep the first sentence.
        var cut = message.IndexOf(". Path:", StringComparison.Ordinal);
        return $"invalid JSON{where}: {(cut > 0 ? message[..cut] : message)}";
    }

    private static JsonTypeInfo<T> Info<T>() => (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T));

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            TypeInfoResolver = ClusterMeshJsonContext.Default.WithAddedModifier(GoOmitEmptyAttribute.Apply),
            PropertyNameCaseInsensitive = true,
            WriteIndented = false,

            // Go's escaping is applied afterwards (GoJsonEscaping); keep the writer's own escaping minimal.
            Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
            Converters =
            {
                new GoStringConverter(),
                new GoMapConverter<string>(),
                new GoMapConverter<L4Addr>(),
                new GoMapConverter<ImmutableDictionary<string, L4Addr>>(),
                new GoMapConverter<BackendZone>(),
            },
        };
        options.MakeReadOnly();
        return options;
    }
}
