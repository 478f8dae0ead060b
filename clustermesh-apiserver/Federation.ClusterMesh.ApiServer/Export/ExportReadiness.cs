namespace Federation.ClusterMesh.ApiServer.Export;

/// <summary>
/// What /readyz waits for: every exporter registers the parts whose initial write must be complete
/// (the cluster config, each prefix's synced canary). Ready only when all of them are.
/// </summary>
public sealed class ExportReadiness
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Func<bool>> _parts = new(StringComparer.Ordinal);
    private readonly long _startedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
    private double? _bootstrapSeconds;

    /// <summary>Adds (or replaces) a named part and how to tell it is done.</summary>
    public void Register(string name, Func<bool> isDone)
    {
        lock (_gate)
        {
            _parts[name] = isDone;
        }
    }

    /// <summary>Each part and whether it is done.</summary>
    public IReadOnlyDictionary<string, bool> Parts
    {
        get
        {
            lock (_gate)
            {
                return _parts.ToDictionary(p => p.Key, p => p.Value(), StringComparer.Ordinal);
            }
        }
    }

    public bool IsReady
    {
        get
        {
            var parts = Parts;
            var ready = parts.Count > 0 && parts.Values.All(done => done);
            if (ready)
            {
                lock (_gate)
                {
                    _bootstrapSeconds ??= System.Diagnostics.Stopwatch.GetElapsedTime(_startedTimestamp).TotalSeconds;
                }
            }

            return ready;
        }
    }

    /// <summary>Seconds from start to the first time everything was ready (null until then).</summary>
    public double? BootstrapSeconds
    {
        get
        {
            _ = IsReady;
            lock (_gate)
            {
                return _bootstrapSeconds;
            }
        }
    }
}
