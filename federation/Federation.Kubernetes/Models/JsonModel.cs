using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.Kubernetes.Models;

/// <summary>
/// The base of every wire type: JSON fields this library does not model are kept here, so an object
/// read, changed and written back loses nothing another controller put there.
/// </summary>
public abstract record JsonModel
{
    // A setter, not init: System.Text.Json cannot fill an init-only extension data property.
    [JsonExtensionData]
    public Dictionary<string, JsonElement>? ExtensionData { get; set; }
}
