namespace Federation.ClusterMesh.ApiServer.HighAvailability;

/// <summary>
/// Whether this replica may write. Exporters keep their caches warm always and write only while leading:
/// they wait here, write until the returned token is cancelled (leadership lost), then stop writing
/// without revoking their leases (the next leader's writes replace them without visible deletions) and wait again.
/// </summary>
public interface ILeadership
{
    bool IsLeader { get; }

    /// <summary>Completes when this replica leads; the token it returns is cancelled when leadership is lost.</summary>
    Task<CancellationToken> WaitForLeadershipAsync(CancellationToken cancellationToken);
}

/// <summary>A single replica: always the leader.</summary>
internal sealed class SoleLeader : ILeadership
{
    public bool IsLeader => true;

    public Task<CancellationToken> WaitForLeadershipAsync(CancellationToken cancellationToken) => Task.FromResult(CancellationToken.None);
}
