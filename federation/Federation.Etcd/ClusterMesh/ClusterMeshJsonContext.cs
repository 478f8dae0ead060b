using System.Text.Json.Serialization;

namespace Federation.Etcd.ClusterMesh;

/// <summary>Source-generated metadata for the ClusterMesh wire types; used through <see cref="ClusterMeshJson"/>.</summary>
/// <remarks>
/// The generator sets init-only properties through one object initializer and passes default values
/// for fields missing from the JSON, which would override property initializers: the wire types
/// therefore coalesce null in their <c>init</c> accessors (strings to "", structs to empty).
/// </remarks>
[JsonSerializable(typeof(CiliumClusterConfig))]
[JsonSerializable(typeof(ClusterService))]
[JsonSerializable(typeof(Node))]
[JsonSerializable(typeof(IPIdentityPair))]
internal sealed partial class ClusterMeshJsonContext : JsonSerializerContext;
