namespace Federation.Etcd.Tests.Infrastructure;

/// <summary>How an <see cref="EtcdServer"/> is started.</summary>
public sealed record EtcdServerOptions
{
    /// <summary>
    /// Serve clients over mutual TLS (<c>--client-cert-auth</c>, <c>--trusted-ca-file</c>) with
    /// certificates generated for this server; client URLs are then https.
    /// </summary>
    public bool Tls { get; init; }

    /// <summary>Periodic auto-compaction retention in hours; null leaves auto-compaction off.</summary>
    public int? AutoCompactionRetentionHours { get; init; }

    /// <summary>More etcd flags, appended after the ones the fixture sets (e.g. <c>--quota-backend-bytes=…</c>).</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>Environment variables for the etcd process (e.g. <c>GOMAXPROCS</c>), set after the fixture's own clean-up.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>How long to wait for the server to report healthy after each start.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
