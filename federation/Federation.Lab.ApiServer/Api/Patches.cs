using System.Text.Json;
using System.Text.Json.Nodes;

namespace Federation.Lab.ApiServer.Api;

/// <summary>A patch that cannot be applied; the message goes to the client.</summary>
internal sealed class PatchException(string message) : Exception(message);

/// <summary>
/// The three patch formats Kubernetes accepts: JSON merge patch (RFC 7386), strategic merge patch
/// (merge patch whose lists of named things merge by key) and JSON patch (RFC 6902).
/// </summary>
internal static class Patches
{
    /// <summary>
    /// List fields that merge by a key under strategic merge patch (from the Kubernetes API types), and
    /// primitive lists that merge as sets. Other lists are replaced, as in a merge patch.
    /// </summary>
    private static readonly Dictionary<string, string[]> MergeKeys = new(StringComparer.Ordinal)
    {
        ["containers"] = ["name"],
        ["initContainers"] = ["name"],
        ["ephemeralContainers"] = ["name"],
        ["env"] = ["name"],
        ["volumes"] = ["name"],
        ["volumeMounts"] = ["mountPath"],
        ["volumeDevices"] = ["devicePath"],
        ["imagePullSecrets"] = ["name"],
        ["ports"] = ["containerPort", "port"],
        ["conditions"] = ["type"],
        ["ownerReferences"] = ["uid"],
        ["hostAliases"] = ["ip"],
        ["topologySpreadConstraints"] = ["topologyKey"],
        ["tolerations"] = ["key"],
    };

    private static readonly HashSet<string> SetLists = new(StringComparer.Ordinal) { "finalizers" };

    /// <summary>RFC 7386: objects merge recursively, null deletes, anything else replaces.</summary>
    public static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target as JsonObject ?? [];
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var existing = result[key];
                result.Remove(key);
                result[key] = Merge(existing?.DeepCopyIfParented(), value);
            }
        }

        return result;
    }

    /// <summary>
    /// Strategic merge patch as kubectl apply, label and annotate send it. Supports <c>$patch: replace|delete</c>
    /// on maps and list items and <c>$deleteFromPrimitiveList/field</c>; <c>$setElementOrder/field</c> and
    /// <c>$retainKeys</c> are accepted and ignored (order of merged lists stays the server's).
    /// </summary>
    public static JsonNode? Strategic(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var directive = patchObject["$patch"] is JsonValue d ? d.ToString() : null;
        if (directive == "replace")
        {
            var replaced = (JsonObject)patchObject.DeepClone();
            replaced.Remove("$patch");
            return replaced;
        }

        if (directive == "delete")
        {
            return null;
        }

        var result = target as JsonObject ?? [];
        foreach (var (key, value) in patchObject)
        {
            if (key.StartsWith("$setElementOrder/", StringComparison.Ordinal) || key is "$retainKeys" or "$patch")
            {
                continue;
            }

            if (key.StartsWith("$deleteFromPrimitiveList/", StringComparison.Ordinal))
            {
                var field = key["$deleteFromPrimitiveList/".Length..];
                if (result[field] is JsonArray list && value is JsonArray remove)
                {
                    foreach (var item in list.Where(i => remove.Any(r => JsonNode.DeepEquals(i, r))).ToList())
                    {
                        list.Remove(item);
                    }
                }

                continue;
            }

            if (value is null)
            {
                result.Remove(key);
                continue;
            }

            var existing = result[key]?.DeepCopyIfParented();
            result.Remove(key);
            JsonNode? merged;
            if (value is JsonArray patchList && existing is JsonArray targetList)
            {
                merged = MergeList(key, targetList, patchList);
            }
            else if (value is JsonObject)
            {
                merged = Strategic(existing, value);
                if (merged is null)
                {
                    continue;
                }
            }
            else
            {
                merged = value.DeepClone();
            }

            result[key] = merged;
        }

        return result;
    }

    /// <summary>RFC 6902 operations: add, remove, replace, move, copy, test.</summary>
    public static JsonNode? Json(JsonNode? document, JsonNode? patch)
    {
        if (patch is not JsonArray operations)
        {
            throw new PatchException("a JSON patch must be an array of operations");
        }

        var root = new JsonObject { ["r"] = document?.DeepClone() };
        foreach (var node in operations)
        {
            if (node is not JsonObject operation || operation["op"] is not JsonValue opValue || operation["path"] is not JsonValue pathValue)
            {
                throw new PatchException("each JSON patch operation needs \"op\" and \"path\"");
            }

            var op = opValue.ToString();
            var path = pathValue.ToString();
            switch (op)
            {
                case "add":
                    Add(root, path, RequireValue(operation));
                    break;
                case "remove":
                    Remove(root, path);
                    break;
                case "replace":
                    Remove(root, path);
                    Add(root, path, RequireValue(operation));
                    break;
                case "move":
                    var moved = Remove(root, From(operation));
                    Add(root, path, moved);
                    break;
                case "copy":
                    Add(root, path, Get(root, From(operation))?.DeepClone());
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(root, path), operation["value"]))
                    {
                        throw new PatchException($"test operation failed: the value at {path} is not {operation["value"]?.ToJsonString() ?? "null"}");
                    }

                    break;
                default:
                    throw new PatchException($"unknown JSON patch operation \"{op}\"");
            }
        }

        return root["r"]?.DeepCopyIfParented();
    }

    private static JsonNode MergeList(string field, JsonArray target, JsonArray patch)
    {
        if (SetLists.Contains(field) && patch.All(p => p is JsonValue))
        {
            var union = (JsonArray)target.DeepClone();
            foreach (var item in patch)
            {
                if (!union.Any(u => JsonNode.DeepEquals(u, item)))
                {
                    union.Add(item?.DeepClone());
                }
            }

            return union;
        }

        if (!MergeKeys.TryGetValue(field, out var candidates))
        {
            return patch.DeepClone();
        }

        var mergeKey = candidates.FirstOrDefault(k => patch.All(p => p is JsonObject o && o.ContainsKey(k)));
        if (mergeKey is null)
        {
            return patch.DeepClone();
        }

        var result = (JsonArray)target.DeepClone();
        foreach (var item in patch.OfType<JsonObject>())
        {
            var existing = result.OfType<JsonObject>().FirstOrDefault(e => JsonNode.DeepEquals(e[mergeKey], item[mergeKey]));
            var delete = item["$patch"] is JsonValue d && d.ToString() == "delete";
            if (existing is null)
            {
                if (!delete)
                {
                    var added = (JsonObject)item.DeepClone();
                    added.Remove("$patch");
                    result.Add(added);
                }

                continue;
            }

            var index = result.IndexOf(existing);
            result.RemoveAt(index);
            if (!delete && Strategic(existing, item) is { } merged)
            {
                result.Insert(index, merged);
            }
        }

        return result;
    }

    private static JsonNode DeepCopyIfParented(this JsonNode node) => node.Parent is null ? node : node.DeepClone();

    private static JsonNode? RequireValue(JsonObject operation)
        => operation.TryGetPropertyValue("value", out var value) ? value?.DeepClone() : throw new PatchException("the operation needs a \"value\"");

    private static string From(JsonObject operation)
        => operation["from"] is JsonValue from ? from.ToString() : throw new PatchException("the operation needs a \"from\"");

    private static (JsonNode Parent, string Token) Locate(JsonObject root, string pointer)
    {
        if (pointer.Length > 0 && pointer[0] != '/')
        {
            throw new PatchException($"invalid JSON pointer \"{pointer}\"");
        }

        var tokens = ("/r" + pointer).Split('/')[1..].Select(t => t.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)).ToArray();
        JsonNode? parent = root;
        foreach (var token in tokens[..^1])
        {
            parent = Child(parent, token) ?? throw new PatchException($"the path \"{pointer}\" does not exist");
        }

        return (parent!, tokens[^1]);
    }

    private static JsonNode? Child(JsonNode? node, string token) => node switch
    {
        JsonObject o => o[token],
        JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count => a[i],
        _ => null,
    };

    private static JsonNode? Get(JsonObject root, string pointer)
    {
        var (parent, token) = Locate(root, pointer);
        return Child(parent, token);
    }

    private static void Add(JsonObject root, string pointer, JsonNode? value)
    {
        var (parent, token) = Locate(root, pointer);
        switch (parent)
        {
            case JsonObject o:
                o.Remove(token);
                o[token] = value;
                break;
            case JsonArray a when token == "-":
                a.Add(value);
                break;
            case JsonArray a when int.TryParse(token, out var i) && i >= 0 && i <= a.Count:
                a.Insert(i, value);
                break;
            default:
                throw new PatchException($"cannot add at \"{pointer}\"");
        }
    }

    private static JsonNode? Remove(JsonObject root, string pointer)
    {
        var (parent, token) = Locate(root, pointer);
        switch (parent)
        {
            case JsonObject o when o.ContainsKey(token):
                var value = o[token];
                o.Remove(token);
                return value;
            case JsonArray a when int.TryParse(token, out var i) && i >= 0 && i < a.Count:
                var item = a[i];
                a.RemoveAt(i);
                return item;
            default:
                throw new PatchException($"the path \"{pointer}\" does not exist");
        }
    }

    /// <summary>Parses a patch body; malformed JSON becomes a <see cref="PatchException"/>.</summary>
    public static JsonNode? Parse(ReadOnlySpan<byte> body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException ex)
        {
            throw new PatchException($"the patch is not valid JSON: {ex.Message}");
        }
    }
}
