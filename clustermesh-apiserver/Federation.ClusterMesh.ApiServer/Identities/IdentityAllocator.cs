using System.Globalization;
using System.Text;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using Federation.Etcd.Protocol;
using Google.Protobuf;

namespace Federation.ClusterMesh.ApiServer.Identities;

/// <summary>
/// Numeric identities per label string, kept in etcd so they survive restarts. Two keys per identity, created together
/// by one Txn that requires both to be absent, so two writers never hand out the same id nor two ids for one label string:
/// <c>&lt;prefix&gt;/&lt;cluster&gt;/id/&lt;id&gt;</c> = label string and <c>&lt;prefix&gt;/&lt;cluster&gt;/labels/&lt;label string&gt;</c> = id.
/// Not on leases: an allocation lives until it is released.
/// Used from one loop at a time (the exporter's reconcile loop).
/// </summary>
internal sealed class IdentityAllocator
{
    private readonly IEtcdClient _etcd;
    private readonly IdentityRange _range;
    private readonly string _idPrefix;
    private readonly string _labelsPrefix;
    private readonly Dictionary<string, uint> _byLabels = new(StringComparer.Ordinal);
    private readonly Dictionary<uint, string> _byId = [];
    private uint _next;

    public IdentityAllocator(IEtcdClient etcd, string allocationPrefix, string cluster, IdentityRange range)
    {
        _etcd = etcd;
        _range = range;
        _idPrefix = $"{allocationPrefix}/{cluster}/id/";
        _labelsPrefix = $"{allocationPrefix}/{cluster}/labels/";
        _next = range.First;
    }

    /// <summary>Every allocation known: label string → id.</summary>
    public IReadOnlyDictionary<string, uint> Allocations => _byLabels;

    /// <summary>Reads the allocations in etcd (ids outside this cluster's range are ignored).</summary>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var listing = await _etcd.ListPrefixAsync(_idPrefix, cancellationToken: cancellationToken).ConfigureAwait(false);
        _byLabels.Clear();
        _byId.Clear();
        foreach (var kv in listing.Kvs)
        {
            var key = kv.Key.ToStringUtf8();
            if (uint.TryParse(key.AsSpan(_idPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id) && _range.Contains(id))
            {
                Remember(kv.Value.ToStringUtf8(), id);
            }
        }

        _next = _range.First;
    }

    /// <summary>The id of <paramref name="labels"/>, allocated if it has none yet. Null when the range is exhausted.</summary>
    public async Task<uint?> GetOrAllocateAsync(string labels, CancellationToken cancellationToken)
    {
        if (_byLabels.TryGetValue(labels, out var known))
        {
            return known;
        }

        var labelsKey = _labelsPrefix + labels;
        var value = ByteString.CopyFromUtf8(labels);
        for (var attempts = 0; attempts < 64; attempts++)
        {
            if (NextFree() is not { } candidate)
            {
                return null;
            }

            var idKey = _idPrefix + candidate.ToString(CultureInfo.InvariantCulture);
            var txn = new TxnRequest();
            txn.Compare.Add(TxnCompare.Missing(idKey));
            txn.Compare.Add(TxnCompare.Missing(labelsKey));
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(idKey), Value = value } });
            txn.Success.Add(new RequestOp { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(labelsKey), Value = ByteString.CopyFromUtf8(candidate.ToString(CultureInfo.InvariantCulture)) } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(labelsKey) } });
            txn.Failure.Add(new RequestOp { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(idKey) } });
            var response = await _etcd.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                Remember(labels, candidate);
                return candidate;
            }

            // Someone else allocated: either these labels (use their id) or this id (remember it, try the next one).
            var existingForLabels = response.Responses[0].ResponseRange.Kvs;
            if (existingForLabels.Count > 0
                && uint.TryParse(existingForLabels[0].Value.ToStringUtf8(), NumberStyles.None, CultureInfo.InvariantCulture, out var theirs)
                && _range.Contains(theirs))
            {
                Remember(labels, theirs);
                return theirs;
            }

            var existingForId = response.Responses[1].ResponseRange.Kvs;
            if (existingForId.Count > 0)
            {
                Remember(existingForId[0].Value.ToStringUtf8(), candidate);
            }
            else
            {
                _byId[candidate] = string.Empty;
            }
        }

        throw new InvalidOperationException($"Could not allocate an identity for \"{labels}\" after 64 attempts.");
    }

    /// <summary>Releases an allocation (both keys, only if they still hold this pair).</summary>
    public async Task ReleaseAsync(string labels, uint id, CancellationToken cancellationToken)
    {
        var idText = id.ToString(CultureInfo.InvariantCulture);
        var idKey = _idPrefix + idText;
        var labelsKey = _labelsPrefix + labels;
        var txn = new TxnRequest();
        txn.Compare.Add(TxnCompare.Value(idKey, Compare.Types.CompareResult.Equal, ByteString.CopyFrom(Encoding.UTF8.GetBytes(labels))));
        txn.Compare.Add(TxnCompare.Value(labelsKey, Compare.Types.CompareResult.Equal, ByteString.CopyFromUtf8(idText)));
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(idKey) } });
        txn.Success.Add(new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = ByteString.CopyFromUtf8(labelsKey) } });
        await _etcd.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
        _byLabels.Remove(labels);
        _byId.Remove(id);
    }

    private void Remember(string labels, uint id)
    {
        _byLabels[labels] = id;
        _byId[id] = labels;
    }

    private uint? NextFree()
    {
        // Lowest free id first; wraps once so released ids are reused when the top is reached.
        for (var scanned = 0L; scanned <= _range.Last - _range.First; scanned++)
        {
            var candidate = _next;
            _next = _next >= _range.Last ? _range.First : _next + 1;
            if (!_byId.ContainsKey(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
