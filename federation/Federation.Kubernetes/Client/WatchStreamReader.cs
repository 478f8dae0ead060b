using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Client;

/// <summary>
/// Reads a watch response: one JSON event per line (<c>{"type":"ADDED","object":{…}}</c>), however the bytes are split
/// across reads. ERROR events are returned with their <see cref="Status"/>; the caller decides what they mean.
/// </summary>
internal static class WatchStreamReader
{
    private const int InitialBufferSize = 16 * 1024;

    public static async IAsyncEnumerable<WatchEvent<T>> ReadAsync<T>(
        Stream stream, JsonTypeInfo<T> typeInfo, bool skipUndecodable = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class
    {
        var buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        var start = 0;
        var end = 0;
        try
        {
            while (true)
            {
                // Hand out every complete line in the buffer.
                int newline;
                while ((newline = Array.IndexOf(buffer, (byte)'\n', start, end - start)) >= 0)
                {
                    var line = new ReadOnlyMemory<byte>(buffer, start, newline - start);
                    start = newline + 1;
                    if (ParseLine(line.Span, typeInfo, skipUndecodable) is { } ev)
                    {
                        yield return ev;
                    }
                }

                // Make room: move the partial line to the front, grow when a single event fills the buffer.
                if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }

                if (end == buffer.Length)
                {
                    var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    Buffer.BlockCopy(buffer, 0, larger, 0, end);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = larger;
                }

                var read = await stream.ReadAsync(buffer.AsMemory(end, buffer.Length - end), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    // End of stream: a last event without its newline still counts.
                    if (end > start && ParseLine(new ReadOnlySpan<byte>(buffer, start, end - start), typeInfo, skipUndecodable) is { } last)
                    {
                        yield return last;
                    }

                    yield break;
                }

                end += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Parses one line; null for a blank line. With <paramref name="skipUndecodable"/>, an event whose object does not
    /// decode comes back with <see cref="WatchEvent{T}.Undecodable"/> set instead of failing.
    /// </summary>
    public static WatchEvent<T>? ParseLine<T>(ReadOnlySpan<byte> line, JsonTypeInfo<T> typeInfo, bool skipUndecodable = false)
        where T : class
    {
        line = line.Trim((byte)'\r').Trim((byte)' ');
        if (line.IsEmpty)
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(line.ToArray());
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                throw new InvalidDataException("watch event without a type");
            }

            var type = typeElement.GetString() switch
            {
                "ADDED" => WatchEventType.Added,
                "MODIFIED" => WatchEventType.Modified,
                "DELETED" => WatchEventType.Deleted,
                "BOOKMARK" => WatchEventType.Bookmark,
                "ERROR" => WatchEventType.Error,
                var other => throw new InvalidDataException($"unknown watch event type '{other}'"),
            };

            if (!root.TryGetProperty("object", out var objectElement) || objectElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"watch event {typeElement.GetString()} without an object");
            }

            if (type == WatchEventType.Error)
            {
                return new WatchEvent<T>(type, null, objectElement.Deserialize(KubernetesJsonContext.Default.Status));
            }

            if (skipUndecodable)
            {
                var item = ItemDecoder.Decode(objectElement, typeInfo, out var undecodable);
                return new WatchEvent<T>(type, item) { Undecodable = undecodable };
            }

            return new WatchEvent<T>(type, objectElement.Deserialize(typeInfo) ?? throw new InvalidDataException("watch event with a null object"));
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"malformed watch event: {ex.Message}", ex);
        }
    }
}
