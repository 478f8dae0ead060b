using System.Diagnostics.Metrics;

namespace Federation.Etcd;

/// <summary>The instruments of the etcd layer (meter "Federation.Etcd"), exported in Prometheus form by the processes.</summary>
public static class EtcdMetrics
{
    public const string MeterName = "Federation.Etcd";

    private static readonly Meter Meter = new(MeterName);

    internal static readonly Counter<long> SyncWrites = Meter.CreateCounter<long>(
        "federation_etcd_sync_writes_total", description: "Puts and deletes written by sync stores.");

    internal static readonly Counter<long> SyncErrors = Meter.CreateCounter<long>(
        "federation_etcd_sync_errors_total", description: "Failed sync store writes (each is retried).");

    internal static readonly Histogram<double> SyncWriteDuration = Meter.CreateHistogram<double>(
        "federation_etcd_sync_write_duration_seconds", unit: "s", description: "Time to write one key, lease included.");

    internal static readonly Histogram<double> SyncLag = Meter.CreateHistogram<double>(
        "federation_etcd_sync_lag_seconds", unit: "s", description: "Time from a change handed to a sync store to that change written in etcd (queueing, retries and the write).");

    internal static readonly Counter<long> WatchInvalidEntries = Meter.CreateCounter<long>(
        "federation_etcd_watch_invalid_entries_total", description: "Entries read from etcd that failed validation and were skipped.");

    internal static readonly Counter<long> WatchRelists = Meter.CreateCounter<long>(
        "federation_etcd_watch_relists_total", description: "Full re-lists of a watched prefix (after compaction or a broken watch).");
}
