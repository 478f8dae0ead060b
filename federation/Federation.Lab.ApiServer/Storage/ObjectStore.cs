using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Etcd.Protocol;
using Google.Protobuf;

namespace Federation.Lab.ApiServer.Storage;

/// <summary>
/// Kubernetes objects in etcd, one key per object: <c>prefix/group-or-core/resource/namespace/name</c>
/// (cluster-scoped kinds without the namespace segment); the value is the object's JSON without its
/// resourceVersion, which is the key's etcd mod revision on the way out (a list's is the read revision).
/// Creates and updates are etcd transactions, so concurrent writers see AlreadyExists or Conflict rather
/// than losing writes. Used by the REST layer and directly by in-process controllers.
/// </summary>
public sealed partial class ObjectStore
{
    private const int MaxAttempts = 16;
    private const string ServiceIpSegment = "/ranges/serviceips/";

    private readonly IEtcdClient _etcd;
    private readonly string _prefix;
    private readonly ServiceIpRange _serviceRange;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ObjectStore(IEtcdClient etcd, string prefix, ServiceIpRange serviceRange, TimeProvider timeProvider, ILogger<ObjectStore> logger)
    {
        ArgumentNullException.ThrowIfNull(etcd);
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        _etcd = etcd;
        _prefix = prefix.TrimEnd('/');
        _serviceRange = serviceRange;
        _time = timeProvider;
        _logger = logger;
    }

    /// <summary>The ClusterIP range services get their addresses from.</summary>
    public ServiceIpRange ServiceRange => _serviceRange;

    /// <summary>The etcd key of an object.</summary>
    public string Key(ResourceType type, string? @namespace, string name)
        => type.Namespaced ? $"{_prefix}/{type.StorageGroup}/{type.Resource}/{@namespace}/{name}" : $"{_prefix}/{type.StorageGroup}/{type.Resource}/{name}";

    /// <summary>The object, or NotFound.</summary>
    public async Task<StoreResult> GetAsync(ResourceType type, string? @namespace, string name, CancellationToken cancellationToken = default)
    {
        var kv = await _etcd.GetAsync(Key(type, @namespace, name), 0, cancellationToken).ConfigureAwait(false);
        return kv is null ? StoreResult.NotFound(type, name) : StoreResult.Ok(Decode(type, kv.Value, kv.ModRevision));
    }

    /// <summary>
    /// Lists the objects of a type (in one namespace, or all when <paramref name="namespace"/> is null), in key
    /// order. With a limit, returns a continue token; later pages read the first page's revision, and a token
    /// whose revision was compacted gives <see cref="StoreOutcome.Expired"/>.
    /// </summary>
    public async Task<ListResult> ListAsync(ResourceType type, string? @namespace, ListRequest? request = null, CancellationToken cancellationToken = default)
    {
        var raw = await ListRawAsync(type, @namespace, request, cancellationToken).ConfigureAwait(false);
        var items = raw.Items.Select(i => Decode(type, i.Value.Span, i.Revision)).ToList();
        return new ListResult(raw.Outcome, items, raw.Revision, raw.Continue, raw.Message);
    }

    /// <summary>
    /// <see cref="ListAsync"/> without decoding the objects (unless a filter needs to look at them): the stored
    /// bytes, for writing large lists straight to a response (<see cref="StoredJson"/>).
    /// </summary>
    public async Task<RawListResult> ListRawAsync(ResourceType type, string? @namespace, ListRequest? request = null, CancellationToken cancellationToken = default)
    {
        request ??= new ListRequest();
        var prefix = ListPrefix(type, @namespace);
        var end = KeyRange.PrefixEnd(prefix);
        var start = prefix;
        long revision = 0;
        if (!string.IsNullOrEmpty(request.Continue))
        {
            if (!ContinueToken.TryDecode(request.Continue, out var token))
            {
                return new RawListResult(StoreOutcome.BadRequest, [], 0, null, "continue key is not valid: malformed token");
            }

            revision = token.Revision;
            start = prefix + token.StartKey;
        }

        var items = new List<StoredItem>();
        var startKey = ByteString.CopyFromUtf8(start);
        while (true)
        {
            var limit = request.Limit > 0 ? request.Limit - items.Count : 0;
            RangeResponse response;
            try
            {
                response = await _etcd.RangeAsync(new RangeRequest { Key = startKey, RangeEnd = end, Limit = limit, Revision = revision }, cancellationToken).ConfigureAwait(false);
            }
            catch (RevisionCompactedException)
            {
                return new RawListResult(
                    StoreOutcome.Expired, [], 0, null,
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
            }

            if (revision == 0)
            {
                revision = response.Header.Revision;
            }

            foreach (var kv in response.Kvs)
            {
                if (request.Filter is null || request.Filter(Decode(type, kv.Value.Span, kv.ModRevision)))
                {
                    items.Add(new StoredItem(kv.Value.Memory, kv.ModRevision));
                }
            }

            if (!response.More || response.Kvs.Count == 0)
            {
                return new RawListResult(StoreOutcome.Ok, items, revision, null, "");
            }

            // The next page starts at the smallest key after the last one read.
            var next = response.Kvs[^1].Key.ToStringUtf8() + "\0";
            if (request.Limit > 0 && items.Count >= request.Limit)
            {
                return new RawListResult(StoreOutcome.Ok, items, revision, new ContinueToken(revision, next[prefix.Length..]).Encode(), "");
            }

            startKey = ByteString.CopyFromUtf8(next);
        }
    }

    /// <summary>
    /// Creates an object. Fills uid, creationTimestamp, generation and the kind's defaults (a Service gets a
    /// ClusterIP); rejects invalid names (Invalid), an existing object (AlreadyExists) and a missing namespace
    /// (NotFound). A namespaced object must carry <c>metadata.namespace</c>.
    /// </summary>
    public async Task<StoreResult> CreateAsync(ResourceType type, JsonObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var candidate = (JsonObject)value.DeepClone();
        if (CheckKind(type, candidate) is { } kindError)
        {
            return kindError;
        }

        var metadata = ObjectJson.Metadata(candidate);
        if (string.IsNullOrEmpty(ObjectJson.Name(candidate)) && ObjectJson.String(metadata["generateName"]) is { Length: > 0 } generateName)
        {
            metadata["name"] = generateName + RandomSuffix();
        }

        var name = ObjectJson.Name(candidate) ?? "";
        if (CheckName(type, name) is { } nameError)
        {
            return nameError;
        }

        var @namespace = type.Namespaced ? ObjectJson.Namespace(candidate) : null;
        if (type.Namespaced && string.IsNullOrEmpty(@namespace))
        {
            return StoreResult.Fail(StoreOutcome.BadRequest, "the namespace of the object is required (metadata.namespace)");
        }

        if (!type.Namespaced)
        {
            metadata.Remove("namespace");
        }

        metadata.Remove("resourceVersion");
        metadata.Remove("selfLink");
        metadata.Remove("deletionTimestamp");
        metadata.Remove("managedFields");
        metadata["uid"] = Guid.NewGuid().ToString();
        metadata["creationTimestamp"] = Timestamp(_time.GetUtcNow());
        metadata["generation"] = 1;
        if (type == LabResources.Namespaces)
        {
            ApplyNamespaceDefaults(candidate);
        }

        var key = Key(type, @namespace, name);
        var namespaceKey = type.Namespaced ? Key(LabResources.Namespaces, null, @namespace!) : null;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var txn = new TxnRequest();
            txn.Compare.Add(TxnCompare.Missing(key));
            txn.Failure.Add(RangeOp(key));
            if (namespaceKey is not null)
            {
                txn.Compare.Add(TxnCompare.CreateRevision(namespaceKey, Compare.Types.CompareResult.Greater, 0));
                txn.Failure.Add(RangeOp(namespaceKey));
            }

            string? ipKey = null;
            if (type == LabResources.Services)
            {
                var prepared = await PrepareServiceAsync(candidate, null, cancellationToken, attempt).ConfigureAwait(false);
                if (prepared.Error is not null)
                {
                    return prepared.Error;
                }

                if (prepared.Reserve is { } ip)
                {
                    ipKey = ServiceIpKey(ip);
                    txn.Compare.Add(TxnCompare.Missing(ipKey));
                    txn.Success.Add(PutOp(ipKey, Encoding.UTF8.GetBytes(key)));
                }
            }

            txn.Success.Insert(0, PutOp(key, Encode(candidate)));
            var response = await _etcd.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                LogCreated(type.Resource, @namespace ?? "", name, response.Header.Revision);
                return StoreResult.Created(WithRevision(type, candidate, response.Header.Revision));
            }

            if (response.Responses[0].ResponseRange.Kvs.Count > 0)
            {
                return StoreResult.Fail(StoreOutcome.AlreadyExists, $"{type.Resource} \"{name}\" already exists");
            }

            if (namespaceKey is not null && response.Responses[1].ResponseRange.Kvs.Count == 0)
            {
                return StoreResult.Fail(StoreOutcome.NotFound, $"namespaces \"{@namespace}\" not found");
            }

            // The ClusterIP was taken meanwhile: a requested one is an error, an allocated one is retried.
            if (!string.IsNullOrEmpty(ObjectJson.String(value["spec"]?["clusterIP"])))
            {
                return StoreResult.Invalid(type, name, [new FieldCause("spec.clusterIP", "FieldValueInvalid", $"Invalid value: \"{ObjectJson.String(value["spec"]?["clusterIP"])}\": provided IP is already allocated")]);
            }

            candidate["spec"]!.AsObject().Remove("clusterIP");
            candidate["spec"]!.AsObject().Remove("clusterIPs");
        }

        return StoreResult.Conflict(type, name);
    }

    /// <summary>
    /// Replaces an object. With <c>metadata.resourceVersion</c> the write happens only if the object is still at
    /// that revision (else Conflict); without it the update is unconditional. uid and creationTimestamp are kept,
    /// generation grows when <c>spec</c> changes, and an update that changes nothing writes nothing.
    /// </summary>
    public Task<StoreResult> UpdateAsync(ResourceType type, JsonObject value, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(value);
        var name = ObjectJson.Name(value) ?? "";
        var @namespace = type.Namespaced ? ObjectJson.Namespace(value) : null;
        var conditional = !string.IsNullOrEmpty(ObjectJson.ResourceVersion(value));
        return UpdateCoreAsync(type, @namespace, name, _ => StoreResult.Ok((JsonObject)value.DeepClone()), retryOnConflict: !conditional, cancellationToken);
    }

    /// <summary>
    /// Read-modify-write: <paramref name="mutate"/> gets a copy of the current object (with its resourceVersion)
    /// and returns the new one or a failure. Retried on concurrent writes, unless the mutation changed the
    /// resourceVersion (a precondition), which then must match.
    /// </summary>
    public Task<StoreResult> MutateAsync(ResourceType type, string? @namespace, string name, Func<JsonObject, StoreResult> mutate, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(mutate);
        return UpdateCoreAsync(type, type.Namespaced ? @namespace : null, name, mutate, retryOnConflict: true, cancellationToken);
    }

    /// <summary>
    /// Deletes an object and returns it as it was. Preconditions (resourceVersion, uid) that do not match give
    /// Conflict. Deleting a namespace deletes everything in it; deleting a service frees its ClusterIP.
    /// </summary>
    public async Task<StoreResult> DeleteAsync(
        ResourceType type, string? @namespace, string name, string? expectedResourceVersion = null, string? expectedUid = null, CancellationToken cancellationToken = default)
    {
        @namespace = type.Namespaced ? @namespace : null;
        var key = Key(type, @namespace, name);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var kv = await _etcd.GetAsync(key, 0, cancellationToken).ConfigureAwait(false);
            if (kv is null)
            {
                return StoreResult.NotFound(type, name);
            }

            var current = Decode(type, kv.Value, kv.ModRevision);
            if (!string.IsNullOrEmpty(expectedResourceVersion) && expectedResourceVersion != ObjectJson.ResourceVersion(current))
            {
                return StoreResult.Fail(
                    StoreOutcome.Conflict,
                    $"Operation cannot be fulfilled on {type.Resource} \"{name}\": Precondition failed: ResourceVersion: Invalid value: {expectedResourceVersion}: the ResourceVersion in the precondition does not match the ResourceVersion in record ({kv.ModRevision}). The object might have been modified");
            }

            if (!string.IsNullOrEmpty(expectedUid) && expectedUid != ObjectJson.String(current["metadata"]?["uid"]))
            {
                return StoreResult.Fail(
                    StoreOutcome.Conflict,
                    $"Operation cannot be fulfilled on {type.Resource} \"{name}\": Precondition failed: UID in precondition: {expectedUid}, UID in object meta: {ObjectJson.String(current["metadata"]?["uid"])}");
            }

            var txn = new TxnRequest();
            txn.Compare.Add(TxnCompare.ModRevision(key, Compare.Types.CompareResult.Equal, kv.ModRevision));
            txn.Success.Add(DeleteOp(key, prefix: false));
            if (type == LabResources.Services && ServiceIpOf(current) is { } ip)
            {
                txn.Success.Add(DeleteOp(ServiceIpKey(ip), prefix: false));
            }

            if (type == LabResources.Namespaces)
            {
                await AddNamespaceCascadeAsync(txn, name, cancellationToken).ConfigureAwait(false);
            }

            var response = await _etcd.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                LogDeleted(type.Resource, @namespace ?? "", name, response.Header.Revision);
                return StoreResult.Ok(current);
            }
        }

        return StoreResult.Conflict(type, name);
    }

    /// <summary>
    /// Watches a type (one namespace or all). With <paramref name="afterRevision"/> null, first yields the
    /// current objects as Added and then Synced (with the list revision); otherwise only changes after that
    /// revision. Objects entering or leaving <paramref name="filter"/> come as Added or Deleted. A compacted
    /// start revision yields one Expired event and ends.
    /// </summary>
    public async IAsyncEnumerable<StoreWatchEvent> WatchAsync(
        ResourceType type, string? @namespace, long? afterRevision, Func<JsonObject, bool>? filter = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        filter ??= static _ => true;
        var prefix = ListPrefix(type, @namespace);
        long start;
        if (afterRevision is { } after)
        {
            start = after + 1;

            // Compacting at C keeps C's state but drops the tombstones of deletes made at C, so resuming after C-1 would
            // silently miss them. Resuming is only safe after a revision etcd can still read.
            long compactedAt = -1;
            try
            {
                await _etcd.RangeAsync(new RangeRequest { Key = ByteString.CopyFromUtf8(prefix), RangeEnd = KeyRange.PrefixEnd(prefix), Revision = after, CountOnly = true }, cancellationToken).ConfigureAwait(false);
            }
            catch (RevisionCompactedException ex)
            {
                compactedAt = ex.CompactRevision;
            }
            catch (EtcdFutureRevisionException)
            {
                // Not written yet: the watch waits for it.
            }

            if (compactedAt >= 0)
            {
                LogWatchExpired(type.Resource, after, compactedAt);
                yield return new StoreWatchEvent(StoreWatchEventType.Expired, null, compactedAt);
                yield break;
            }
        }
        else
        {
            var listing = await _etcd.ListPrefixAsync(prefix, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var kv in listing.Kvs)
            {
                var item = Decode(type, kv.Value, kv.ModRevision);
                if (filter(item))
                {
                    yield return new StoreWatchEvent(StoreWatchEventType.Added, item, kv.ModRevision);
                }
            }

            yield return new StoreWatchEvent(StoreWatchEventType.Synced, null, listing.Revision);
            start = listing.Revision + 1;
        }

        await using var responses = _etcd.WatchPrefixAsync(prefix, start, prevKv: true, cancellationToken: cancellationToken).GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            long compactedAt;
            try
            {
                if (!await responses.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }

                compactedAt = -1;
            }
            catch (RevisionCompactedException ex)
            {
                compactedAt = ex.CompactRevision;
            }

            if (compactedAt >= 0)
            {
                LogWatchExpired(type.Resource, start - 1, compactedAt);
                yield return new StoreWatchEvent(StoreWatchEventType.Expired, null, compactedAt);
                yield break;
            }

            foreach (var change in responses.Current.Events)
            {
                if (Translate(type, change, filter) is { } translated)
                {
                    yield return translated;
                }
            }
        }
    }

    private StoreWatchEvent? Translate(ResourceType type, Event change, Func<JsonObject, bool> filter)
    {
        var revision = change.Kv.ModRevision;
        var previous = change.PrevKv is { Value.Length: > 0 } prev ? Decode(type, prev.Value, revision) : null;
        var wasIn = previous is not null && filter(previous);
        if (change.Type == Event.Types.EventType.Delete)
        {
            return wasIn ? new StoreWatchEvent(StoreWatchEventType.Deleted, previous, revision) : null;
        }

        var current = Decode(type, change.Kv.Value, revision);
        var isIn = filter(current);
        return (wasIn, isIn) switch
        {
            (true, true) => new StoreWatchEvent(StoreWatchEventType.Modified, current, revision),
            (false, true) => new StoreWatchEvent(StoreWatchEventType.Added, current, revision),
            (true, false) => new StoreWatchEvent(StoreWatchEventType.Deleted, current, revision),
            _ => null,
        };
    }

    /// <summary>Creates the namespaces that always exist (default, kube-system, kube-public) if missing.</summary>
    public async Task EnsureNamespacesAsync(IEnumerable<string> names, CancellationToken cancellationToken = default)
    {
        foreach (var name in names)
        {
            var result = await CreateAsync(LabResources.Namespaces, new JsonObject { ["metadata"] = new JsonObject { ["name"] = name } }, cancellationToken).ConfigureAwait(false);
            if (!result.Succeeded && result.Outcome != StoreOutcome.AlreadyExists)
            {
                throw new InvalidOperationException($"Could not create namespace {name}: {result.Message}");
            }
        }
    }

    private async Task<StoreResult> UpdateCoreAsync(
        ResourceType type, string? @namespace, string name, Func<JsonObject, StoreResult> produce, bool retryOnConflict, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(name))
        {
            return StoreResult.Fail(StoreOutcome.BadRequest, "the name of the object is required (metadata.name)");
        }

        var key = Key(type, @namespace, name);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var kv = await _etcd.GetAsync(key, 0, cancellationToken).ConfigureAwait(false);
            if (kv is null)
            {
                return StoreResult.NotFound(type, name);
            }

            var current = Decode(type, kv.Value, kv.ModRevision);
            var produced = produce((JsonObject)current.DeepClone());
            if (!produced.Succeeded || produced.Object is null)
            {
                return produced;
            }

            var candidate = produced.Object;
            if (CheckKind(type, candidate) is { } kindError)
            {
                return kindError;
            }

            var metadata = ObjectJson.Metadata(candidate);
            if (ObjectJson.Name(candidate) != name)
            {
                return StoreResult.Fail(StoreOutcome.BadRequest, $"the name of the object ({ObjectJson.Name(candidate)}) does not match the name on the URL ({name})");
            }

            if (type.Namespaced && ObjectJson.Namespace(candidate) != @namespace)
            {
                return StoreResult.Fail(StoreOutcome.BadRequest, "the namespace of the provided object does not match the namespace sent on the request");
            }

            if (!type.Namespaced)
            {
                metadata.Remove("namespace");
            }

            var requestedVersion = ObjectJson.ResourceVersion(candidate);
            if (!string.IsNullOrEmpty(requestedVersion) && requestedVersion != ObjectJson.ResourceVersion(current))
            {
                return long.TryParse(requestedVersion, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    ? StoreResult.Conflict(type, name)
                    : StoreResult.Fail(StoreOutcome.BadRequest, $"invalid resourceVersion \"{requestedVersion}\"");
            }

            var currentMetadata = ObjectJson.Metadata(current);
            metadata.Remove("resourceVersion");
            metadata.Remove("selfLink");
            metadata.Remove("managedFields");
            metadata["uid"] = currentMetadata["uid"]?.DeepClone();
            metadata["creationTimestamp"] = currentMetadata["creationTimestamp"]?.DeepClone();
            var generation = currentMetadata["generation"] is JsonValue g && g.TryGetValue<long>(out var number) ? number : 1;
            metadata["generation"] = JsonNode.DeepEquals(current["spec"], candidate["spec"]) ? generation : generation + 1;
            if (type == LabResources.Services)
            {
                var prepared = await PrepareServiceAsync(candidate, current, cancellationToken).ConfigureAwait(false);
                if (prepared.Error is not null)
                {
                    return prepared.Error;
                }
            }

            var stored = (JsonObject)current.DeepClone();
            ObjectJson.Metadata(stored).Remove("resourceVersion");
            if (JsonNode.DeepEquals(stored, candidate))
            {
                return StoreResult.Ok(current);
            }

            var txn = new TxnRequest();
            txn.Compare.Add(TxnCompare.ModRevision(key, Compare.Types.CompareResult.Equal, kv.ModRevision));
            txn.Success.Add(PutOp(key, Encode(candidate)));
            var response = await _etcd.TxnAsync(txn, cancellationToken).ConfigureAwait(false);
            if (response.Succeeded)
            {
                LogUpdated(type.Resource, @namespace ?? "", name, response.Header.Revision);
                return StoreResult.Ok(WithRevision(type, candidate, response.Header.Revision));
            }

            if (!retryOnConflict)
            {
                return StoreResult.Conflict(type, name);
            }
        }

        return StoreResult.Conflict(type, name);
    }

    private async Task AddNamespaceCascadeAsync(TxnRequest txn, string @namespace, CancellationToken cancellationToken)
    {
        var services = await _etcd.ListPrefixAsync(ListPrefix(LabResources.Services, @namespace), cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var kv in services.Kvs)
        {
            if (ServiceIpOf(Decode(LabResources.Services, kv.Value, kv.ModRevision)) is { } ip)
            {
                txn.Success.Add(DeleteOp(ServiceIpKey(ip), prefix: false));
            }
        }

        foreach (var type in LabResources.All.Where(t => t.Namespaced))
        {
            txn.Success.Add(DeleteOp(ListPrefix(type, @namespace), prefix: true));
        }
    }

    private static void ApplyNamespaceDefaults(JsonObject value)
    {
        if (value["spec"] is not JsonObject spec)
        {
            spec = [];
            value["spec"] = spec;
        }

        spec["finalizers"] ??= new JsonArray("kubernetes");
        value["status"] = new JsonObject { ["phase"] = "Active" };
        var labels = ObjectJson.Metadata(value)["labels"] as JsonObject ?? [];
        labels["kubernetes.io/metadata.name"] = ObjectJson.Name(value);
        ObjectJson.Metadata(value)["labels"] = labels;
    }

    private string ListPrefix(ResourceType type, string? @namespace)
        => type.Namespaced && !string.IsNullOrEmpty(@namespace)
            ? $"{_prefix}/{type.StorageGroup}/{type.Resource}/{@namespace}/"
            : $"{_prefix}/{type.StorageGroup}/{type.Resource}/";

    private string ServiceIpKey(uint address) => _prefix + ServiceIpSegment + ServiceIpRange.Format(address);

    private uint? ServiceIpOf(JsonObject service)
        => ObjectJson.String(service["spec"]?["clusterIP"]) is { } text && ServiceIpRange.TryParseAddress(text, out var address) && _serviceRange.Contains(address)
            ? address
            : null;

    private static StoreResult? CheckKind(ResourceType type, JsonObject value)
    {
        var apiVersion = ObjectJson.String(value["apiVersion"]);
        var kind = ObjectJson.String(value["kind"]);
        if (!string.IsNullOrEmpty(apiVersion) && apiVersion != type.ApiVersion)
        {
            return StoreResult.Fail(StoreOutcome.BadRequest, $"the API version in the data ({apiVersion}) does not match the expected API version ({type.ApiVersion})");
        }

        if (!string.IsNullOrEmpty(kind) && kind != type.Kind)
        {
            return StoreResult.Fail(StoreOutcome.BadRequest, $"the kind in the data ({kind}) does not match the expected kind ({type.Kind}) of {type.Resource}");
        }

        if (value["metadata"] is not null and not JsonObject)
        {
            return StoreResult.Fail(StoreOutcome.BadRequest, "metadata must be an object");
        }

        value["apiVersion"] = type.ApiVersion;
        value["kind"] = type.Kind;
        return null;
    }

    private static StoreResult? CheckName(ResourceType type, string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return StoreResult.Invalid(type, name, [new FieldCause("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]);
        }

        return NameValidation.Check(type.NameRule, name) is { } reason
            ? StoreResult.Invalid(type, name, [new FieldCause("metadata.name", "FieldValueInvalid", $"Invalid value: \"{name}\": {reason}")])
            : null;
    }

    private static JsonObject Decode(ResourceType type, ByteString bytes, long revision) => Decode(type, bytes.Span, revision);

    private static JsonObject Decode(ResourceType type, ReadOnlySpan<byte> bytes, long revision)
    {
        var value = JsonNode.Parse(bytes) as JsonObject ?? throw new JsonException($"stored {type.Resource} object is not a JSON object");
        return WithRevision(type, value, revision);
    }

    private static JsonObject WithRevision(ResourceType type, JsonObject value, long revision)
    {
        value["apiVersion"] = type.ApiVersion;
        value["kind"] = type.Kind;
        ObjectJson.Metadata(value)["resourceVersion"] = revision.ToString(CultureInfo.InvariantCulture);
        return value;
    }

    private static byte[] Encode(JsonObject value) => Encoding.UTF8.GetBytes(value.ToJsonString());

    private static RequestOp PutOp(string key, byte[] value)
        => new() { RequestPut = new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value) } };

    private static RequestOp RangeOp(string key) => new() { RequestRange = new RangeRequest { Key = ByteString.CopyFromUtf8(key) } };

    private static RequestOp DeleteOp(string key, bool prefix)
    {
        var bytes = ByteString.CopyFromUtf8(key);
        return new() { RequestDeleteRange = new DeleteRangeRequest { Key = bytes, RangeEnd = prefix ? KeyRange.PrefixEnd(bytes) : ByteString.Empty } };
    }

    /// <summary>Kubernetes' timestamp format (RFC 3339, seconds, UTC).</summary>
    internal static string Timestamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string RandomSuffix()
    {
        const string Alphabet = "bcdfghjklmnpqrstvwxz2456789";
        return string.Create(5, 0, static (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[Random.Shared.Next(Alphabet.Length)];
            }
        });
    }
}
