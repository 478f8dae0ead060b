using System.Globalization;
using Federation.Etcd.ClusterMesh;

namespace Federation.Mesh.Remote;

/// <summary>Settings of the connections to remote clusters (<see cref="RemoteClusterManager"/>, <see cref="CachedRemoteClusterSource"/>).</summary>
public sealed class RemoteClusterOptions
{
    /// <summary>Our own cluster's name: a config file of that name is ignored.</summary>
    public string LocalClusterName { get; set; } = string.Empty;

    /// <summary>Our own cluster ID: a remote claiming it is refused.</summary>
    public uint LocalClusterId { get; set; }

    /// <summary>255 or 511, the same mesh-wide: a remote announcing another value is refused.</summary>
    public uint MaxConnectedClusters { get; set; } = ClusterIdentity.DefaultMaxConnectedClusters;

    /// <summary>The directory with one file per remote cluster (Cilium's clustermesh config format); only <see cref="RemoteClusterManager"/> reads it (and requires it).</summary>
    public string ConfigDirectory { get; set; } = string.Empty;

    /// <summary>How often the config directory is re-read (a file system watcher triggers earlier reads).</summary>
    public TimeSpan ConfigPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an unreachable remote's services are kept before they are revoked; zero keeps them forever.</summary>
    public TimeSpan StaleTtl { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The remote's heartbeat period; a remote whose heartbeat did not change for <see cref="HeartbeatMissedIntervals"/> of them is reconnected.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Heartbeat intervals without a change before a remote counts as unhealthy.</summary>
    public int HeartbeatMissedIntervals { get; set; } = 2;

    /// <summary>First delay between connection attempts (exponential with jitter from here).</summary>
    public TimeSpan BackoffMin { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Ceiling of the delay between connection attempts.</summary>
    public TimeSpan BackoffMax { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Time to establish a connection to one remote endpoint.</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Deadline of one unary etcd call to a remote (also bounds the liveness probe).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// How many remotes may be between connecting and their first complete listing at once (0: no bound). With hundreds
    /// of remotes starting together, unbounded initial listings overload both sides until calls time out and restart.
    /// </summary>
    public int MaxConcurrentInitialSyncs { get; set; }

    /// <summary>A remote still not listed after this long gives its initial-sync slot up (one that never syncs must not starve the others).</summary>
    public TimeSpan InitialSyncSlotTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The liveness probe and heartbeat check period: a quarter of the heartbeat interval, within [50 ms, 15 s].</summary>
    internal TimeSpan HealthCheckPeriod =>
        TimeSpan.FromTicks(Math.Clamp(HeartbeatInterval.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(15).Ticks));

    internal TimeSpan HeartbeatTimeout => HeartbeatInterval * HeartbeatMissedIntervals;

    /// <summary>All problems, each naming the option and what is allowed; empty when valid. <see cref="ConfigDirectory"/> is checked by <see cref="RemoteClusterManager"/>, which alone needs it.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxConcurrentInitialSyncs < 0)
        {
            errors.Add($"{nameof(MaxConcurrentInitialSyncs)}: {MaxConcurrentInitialSyncs} must be 0 (no bound) or more");
        }

        var name = ClusterIdentity.ValidateClusterName(LocalClusterName);
        if (!name.Ok)
        {
            errors.Add($"{nameof(LocalClusterName)}: {name.Error}");
        }

        var max = ClusterIdentity.ValidateMaxConnectedClusters(MaxConnectedClusters);
        if (!max.Ok)
        {
            errors.Add($"{nameof(MaxConnectedClusters)}: {max.Error}");
        }
        else
        {
            var id = ClusterIdentity.ValidateClusterId(LocalClusterId, MaxConnectedClusters);
            if (!id.Ok)
            {
                errors.Add($"{nameof(LocalClusterId)}: {id.Error}");
            }
        }

        Positive(errors, nameof(ConfigPollInterval), ConfigPollInterval);
        Positive(errors, nameof(HeartbeatInterval), HeartbeatInterval);
        Positive(errors, nameof(BackoffMin), BackoffMin);
        Positive(errors, nameof(BackoffMax), BackoffMax);
        Positive(errors, nameof(DialTimeout), DialTimeout);
        Positive(errors, nameof(RequestTimeout), RequestTimeout);
        if (StaleTtl < TimeSpan.Zero)
        {
            errors.Add($"{nameof(StaleTtl)}: {StaleTtl} is negative: use a positive duration, or 0 to keep stale services forever");
        }

        if (HeartbeatMissedIntervals < 1)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{nameof(HeartbeatMissedIntervals)}: {HeartbeatMissedIntervals} must be at least 1"));
        }

        if (BackoffMin > TimeSpan.Zero && BackoffMax > TimeSpan.Zero && BackoffMax < BackoffMin)
        {
            errors.Add($"{nameof(BackoffMax)}: {BackoffMax} is below {nameof(BackoffMin)} {BackoffMin}");
        }

        return errors;
    }

    /// <summary>Throws an <see cref="ArgumentException"/> listing every problem.</summary>
    public void EnsureValid()
    {
        var errors = Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid remote cluster options: " + string.Join("; ", errors));
        }
    }

    private static void Positive(List<string> errors, string option, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{option}: {value} must be a positive duration");
        }
    }
}
