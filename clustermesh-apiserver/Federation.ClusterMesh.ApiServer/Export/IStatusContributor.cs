using System.Text.Json.Nodes;

namespace Federation.ClusterMesh.ApiServer.Export;

/// <summary>A part of the JSON status endpoint (/status): what an exporter exports, its sync state, its last errors.</summary>
public interface IStatusContributor
{
    /// <summary>The property name under which <see cref="GetStatus"/> appears.</summary>
    string Name { get; }

    JsonNode GetStatus();
}
