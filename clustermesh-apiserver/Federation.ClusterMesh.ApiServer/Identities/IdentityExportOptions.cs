namespace Federation.ClusterMesh.ApiServer.Identities;

/// <summary>Settings of the identity and ip-entry exporter (defaults suit production; tests register their own instance).</summary>
public sealed class IdentityExportOptions
{
    /// <summary>
    /// The etcd prefix under which allocations are kept (outside <c>cilium/state/</c>, so remote readers never see them):
    /// <c>&lt;prefix&gt;/&lt;cluster&gt;/id/&lt;id&gt;</c> = label string and <c>&lt;prefix&gt;/&lt;cluster&gt;/labels/&lt;label string&gt;</c> = id.
    /// </summary>
    public string AllocationPrefix { get; set; } = "federation/identities";

    /// <summary>How long an identity no pod uses any more stays allocated (and exported) before it is released.</summary>
    public TimeSpan ReleaseGracePeriod { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Delay before a pod whose reconcile failed (etcd unavailable) is tried again.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}
