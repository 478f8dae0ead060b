using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>
/// The list <c>continue</c> token: the revision the first page was read at (later pages read the same
/// snapshot) and the next key, relative to the list prefix. Opaque to clients (base64url JSON).
/// </summary>
internal sealed record ContinueToken(long Revision, string StartKey)
{
    public string Encode()
    {
        var json = new JsonObject { ["v"] = "meta.k8s.io/v1", ["rv"] = Revision, ["start"] = StartKey };
        return Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json.ToJsonString()));
    }

    public static bool TryDecode(string text, [NotNullWhen(true)] out ContinueToken? token)
    {
        token = null;
        try
        {
            var json = JsonNode.Parse(Base64Url.DecodeFromChars(text)) as JsonObject;
            if (json?["rv"] is JsonValue rv && rv.TryGetValue<long>(out var revision) && revision > 0
                && ObjectJson.String(json["start"]) is { } start)
            {
                token = new ContinueToken(revision, start);
                return true;
            }
        }
        catch (Exception ex) when (ex is FormatException or JsonException)
        {
            return false;
        }

        return false;
    }
}
