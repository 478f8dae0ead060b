using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Client;

/// <summary>Decodes one object of a list or watch on its own, so that a bad one can be left out instead of failing the rest.</summary>
internal static class ItemDecoder
{
    /// <summary>The object, or null with <paramref name="undecodable"/> saying why and naming it as far as its metadata can be read.</summary>
    public static T? Decode<T>(JsonElement element, JsonTypeInfo<T> typeInfo, out UndecodableObject? undecodable)
        where T : class
    {
        undecodable = null;
        if (element.ValueKind != JsonValueKind.Object)
        {
            undecodable = Describe(element, UndecodableReason.NotAnObject, $"a JSON {element.ValueKind} where an object was expected");
            return null;
        }

        try
        {
            var item = element.Deserialize(typeInfo);
            if (item is null)
            {
                undecodable = Describe(element, UndecodableReason.NotAnObject, "null object");
            }

            return item;
        }
        catch (JsonException ex)
        {
            undecodable = Describe(element, UndecodableReason.Malformed, ex.Message);
            return null;
        }
    }

    /// <summary>Reads what it can of <c>metadata</c> without the model: every field that is not a string stays null.</summary>
    public static UndecodableObject Describe(JsonElement element, UndecodableReason reason, string error)
    {
        string? name = null, ns = null, uid = null, resourceVersion = null;
        if (element.ValueKind == JsonValueKind.Object
            && element.TryGetProperty("metadata", out var metadata)
            && metadata.ValueKind == JsonValueKind.Object)
        {
            name = StringField(metadata, "name");
            ns = StringField(metadata, "namespace");
            uid = StringField(metadata, "uid");
            resourceVersion = StringField(metadata, "resourceVersion");
        }

        return new UndecodableObject(ns, name, uid, resourceVersion, reason, error);
    }

    private static string? StringField(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
