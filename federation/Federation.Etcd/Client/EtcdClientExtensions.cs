using System.Runtime.CompilerServices;
using Federation.Etcd.Protocol;
using Google.Protobuf;

namespace Federation.Etcd;

/// <summary>Everyday shapes of the etcd calls: string keys, prefixes, paged listing.</summary>
public static class EtcdClientExtensions
{
    /// <summary>The key's current value, or null.</summary>
    public static async Task<KeyValue?> GetAsync(this IEtcdClient client, string key, long revision = 0, CancellationToken cancellationToken = default)
    {
        var response = await client.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(key), Revision = revision }, cancellationToken).ConfigureAwait(false);
        return response.Kvs.Count > 0 ? response.Kvs[0] : null;
    }

    /// <summary>One Range over a prefix (at most <paramref name="limit"/> keys when non-zero).</summary>
    public static Task<RangeResponse> GetPrefixAsync(
        this IEtcdClient client, string prefix, long revision = 0, long limit = 0, bool keysOnly = false, CancellationToken cancellationToken = default)
        => client.RangeAsync(PrefixRange(prefix, revision, limit, keysOnly), cancellationToken);

    public static async Task<long> CountPrefixAsync(this IEtcdClient client, string prefix, CancellationToken cancellationToken = default)
    {
        var request = PrefixRange(prefix, 0, 0, keysOnly: false);
        request.CountOnly = true;
        var response = await client.RangeAsync(request, cancellationToken).ConfigureAwait(false);
        return response.Count;
    }

    public static Task<PutResponse> PutAsync(this IEtcdClient client, string key, ReadOnlyMemory<byte> value, long leaseId = 0, bool prevKv = false, CancellationToken cancellationToken = default)
        => client.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value.Span), Lease = leaseId, PrevKv = prevKv }, cancellationToken);

    public static Task<PutResponse> PutAsync(this IEtcdClient client, string key, string value, long leaseId = 0, bool prevKv = false, CancellationToken cancellationToken = default)
        => client.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFromUtf8(value), Lease = leaseId, PrevKv = prevKv }, cancellationToken);

    public static Task<DeleteRangeResponse> DeleteAsync(this IEtcdClient client, string key, bool prevKv = false, CancellationToken cancellationToken = default)
        => client.DeleteRangeAsync(new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(key), PrevKv = prevKv }, cancellationToken);

    public static Task<DeleteRangeResponse> DeletePrefixAsync(this IEtcdClient client, string prefix, CancellationToken cancellationToken = default)
    {
        var key = ByteString.CopyFromUtf8(prefix);
        return client.DeleteRangeAsync(new DeleteRangeRequest { Key = key, RangeEnd = KeyRange.PrefixEnd(key) }, cancellationToken);
    }

    /// <summary>
    /// Lists a prefix in pages, all read at one pinned revision (that of the first page), so the listing
    /// is a consistent snapshot; throws <see cref="RevisionCompactedException"/> if that revision is compacted mid-way.
    /// </summary>
    public static async Task<PrefixListing> ListPrefixAsync(this IEtcdClient client, string prefix, int pageSize = 1000, bool keysOnly = false, CancellationToken cancellationToken = default)
    {
        var kvs = new List<KeyValue>();
        long revision = 0;
        await foreach (var page in client.ListPrefixPagesAsync(prefix, pageSize, keysOnly, cancellationToken).ConfigureAwait(false))
        {
            revision = page.Revision;
            kvs.AddRange(page.Kvs);
        }

        return new PrefixListing(revision, kvs);
    }

    /// <summary>The pages of <see cref="ListPrefixAsync"/>, as they arrive.</summary>
    public static async IAsyncEnumerable<PrefixListing> ListPrefixPagesAsync(
        this IEtcdClient client, string prefix, int pageSize = 1000, bool keysOnly = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pageSize);
        var start = ByteString.CopyFromUtf8(prefix);
        var end = KeyRange.PrefixEnd(start);
        long revision = 0;
        while (true)
        {
            var request = new RangeRequest { Key = start, RangeEnd = end, Limit = pageSize, Revision = revision, KeysOnly = keysOnly };
            var response = await client.RangeAsync(request, cancellationToken).ConfigureAwait(false);
            if (revision == 0)
            {
                revision = response.Header.Revision;
            }

            yield return new PrefixListing(revision, response.Kvs);
            if (!response.More || response.Kvs.Count == 0)
            {
                yield break;
            }

            // Next page: the smallest key after the last one ("key\0").
            var last = response.Kvs[^1].Key;
            var next = new byte[last.Length + 1];
            last.CopyTo(next, 0);
            start = ByteString.CopyFrom(next);
        }
    }

    /// <summary>Watches every key under a prefix.</summary>
    public static IAsyncEnumerable<WatchResponse> WatchPrefixAsync(
        this IEtcdClient client, string prefix, long startRevision = 0, bool prevKv = false, bool progressNotify = false, CancellationToken cancellationToken = default)
    {
        var key = ByteString.CopyFromUtf8(prefix);
        return client.WatchAsync(new WatchCreateRequest { Key = key, RangeEnd = KeyRange.PrefixEnd(key), StartRevision = startRevision, PrevKv = prevKv, ProgressNotify = progressNotify }, cancellationToken);
    }

    /// <summary>Grants a lease and keeps it alive.</summary>
    public static async Task<LeaseKeepAlive> GrantAndKeepAliveAsync(this IEtcdClient client, TimeSpan ttl, CancellationToken cancellationToken = default)
    {
        var grant = await client.LeaseGrantAsync((long)Math.Ceiling(ttl.TotalSeconds), 0, cancellationToken).ConfigureAwait(false);
        return client.KeepAlive(grant.ID, grant.TTL);
    }

    private static RangeRequest PrefixRange(string prefix, long revision, long limit, bool keysOnly)
    {
        var key = ByteString.CopyFromUtf8(prefix);
        return new RangeRequest { Key = key, RangeEnd = KeyRange.PrefixEnd(key), Revision = revision, Limit = limit, KeysOnly = keysOnly };
    }
}

/// <summary>Keys read under a prefix at one revision.</summary>
public sealed record PrefixListing(long Revision, IReadOnlyList<KeyValue> Kvs);

/// <summary>Builders for Txn comparisons.</summary>
public static class TxnCompare
{
    public static Compare Value(string key, Compare.Types.CompareResult result, ByteString value)
        => new() { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Value, Result = result, Value = value };

    public static Compare Version(string key, Compare.Types.CompareResult result, long version)
        => new() { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Version, Result = result, Version = version };

    public static Compare ModRevision(string key, Compare.Types.CompareResult result, long revision)
        => new() { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Mod, Result = result, ModRevision = revision };

    public static Compare CreateRevision(string key, Compare.Types.CompareResult result, long revision)
        => new() { Key = ByteString.CopyFromUtf8(key), Target = Compare.Types.CompareTarget.Create, Result = result, CreateRevision = revision };

    /// <summary>True when the key does not exist.</summary>
    public static Compare Missing(string key) => CreateRevision(key, Compare.Types.CompareResult.Equal, 0);
}
