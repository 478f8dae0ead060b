namespace Federation.Mesh.Services;

/// <summary>Which cluster's backends a global service prefers (<c>service.cilium.io/affinity</c>, DESIGN.md §4).</summary>
public enum ServiceAffinity
{
    /// <summary>No preference: every active backend of every allowed cluster.</summary>
    None,

    /// <summary>Local backends while one is active; remote ones only as failover.</summary>
    Local,

    /// <summary>Remote backends while one is active; local ones only as failover.</summary>
    Remote,
}
