using System.Text.Json;
using System.Text.Json.Serialization;

namespace Federation.NodeAgent.Sync;

/// <summary>The frontend → service name file the agent keeps in <c>--state-dir</c> (the maps only know VIPs).</summary>
internal static class StateFile
{
    public static string PathIn(string stateDirectory, string node) => Path.Combine(stateDirectory, $"{node}.frontends.json");

    /// <summary>The names of the last apply, or an empty map when the file is missing or unreadable.</summary>
    public static IReadOnlyDictionary<string, string> Read(string stateDirectory, string node)
    {
        try
        {
            var text = File.ReadAllText(PathIn(stateDirectory, node));
            return JsonSerializer.Deserialize(text, AgentJsonContext.Default.DictionaryStringString) ?? [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            return new Dictionary<string, string>();
        }
    }
}

/// <summary>Source-generated JSON of the agent's own files.</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class AgentJsonContext : JsonSerializerContext;
