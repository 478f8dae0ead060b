namespace Federation.ClusterMesh.ApiServer.Tests.KvStoreMesh;

/// <summary>
/// Tests that run kvstoremesh, one at a time: its metrics go through the process-wide meter, so two running at once
/// would each see the other's cached-entry gauges.
/// </summary>
[CollectionDefinition(Name)]
public sealed class KvStoreMeshCollection
{
    public const string Name = "kvstoremesh (process-wide metrics)";
}
