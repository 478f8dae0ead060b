using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Federation.Kubernetes.Informers;

/// <summary>
/// Mirrors one kind into a local cache and reports changes in order. It lists (paged), then watches from the list's
/// resource version with bookmarks. A watch that ends or drops resumes from the last resource version seen (bookmarks
/// included). On 410 Gone it lists again. Listed objects are applied page by page (adds, and updates for objects whose
/// resource version changed); deletions for objects the new list lacks are reported only once the list is complete.
/// <see cref="Synced"/> completes after the first complete list.
/// </summary>
/// <remarks>
/// An object that does not decode (in a list page or a watch event) is skipped, logged once per key and uid, and counted in
/// <see cref="KubernetesMetrics.InvalidObjectsName"/>; the rest of the page or stream is applied. The cache keeps the last
/// version of it that did decode (a skipped object still exists, so it is not reported deleted); a DELETED event removes it.
/// </remarks>
public sealed partial class Informer<T>
    where T : class, IKubernetesObject<T>
{
    // A watch that ends sooner than this without a single event is treated as a failure (backoff), not as a normal end.
    private static readonly TimeSpan MinimumQuietWatch = TimeSpan.FromSeconds(1);

    private readonly IKubernetesClient _client;
    private readonly InformerOptions _options;
    private readonly IInformerObserver<T>? _observer;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, T> _cache = new(StringComparer.Ordinal);
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Only touched by the RunAsync loop: "key|uid" of the undecodable objects already logged at Warning.
    private readonly HashSet<string> _reportedUndecodable = new(StringComparer.Ordinal);
    private volatile string? _resourceVersion;
    private volatile string? _lastError;
    private long _relists;
    private bool _listedOnce;

    public Informer(IKubernetesClient client, InformerOptions options, IInformerObserver<T>? observer = null, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        _client = client;
        _options = options;
        _observer = observer;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Completes once the first complete list has been applied (and reported to the observer); cancelled if the informer stops before that.</summary>
    public Task Synced => _synced.Task;

    /// <summary>The cache key of an object: <c>namespace/name</c>, or <c>name</c> for cluster-scoped objects.</summary>
    public static string KeyOf(T item)
    {
        ArgumentNullException.ThrowIfNull(item);
        return KeyOf(item.Metadata.Namespace, item.Metadata.Name ?? string.Empty);
    }

    public static string KeyOf(string? @namespace, string name)
        => string.IsNullOrEmpty(@namespace) ? name : $"{@namespace}/{name}";

    /// <summary>Reads one cached object; safe from any thread.</summary>
    public bool TryGet(string? @namespace, string name, [MaybeNullWhen(false)] out T item) => _cache.TryGetValue(KeyOf(@namespace, name), out item);

    /// <summary>A snapshot of the cached objects; safe from any thread.</summary>
    public IReadOnlyList<T> List() => [.. _cache.Values];

    public InformerStatus GetStatus()
        => new(_options.Name, _synced.Task.IsCompletedSuccessfully, _cache.Count, _resourceVersion, Interlocked.Read(ref _relists), _lastError);

    /// <summary>Lists and watches until cancelled. Errors are logged and retried with backoff; it returns (without throwing) only when cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var delay = _options.RetryMinDelay;
        var mustList = true;
        var goneInARow = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    if (mustList)
                    {
                        await ListAsync(cancellationToken).ConfigureAwait(false);
                        mustList = false;
                        goneInARow = 0;
                        delay = _options.RetryMinDelay;
                        if (_synced.TrySetResult())
                        {
                            Log.Synced(_logger, _options.Name, _cache.Count, _resourceVersion);
                        }
                    }

                    var started = _time.GetTimestamp();
                    var received = await WatchAsync(cancellationToken).ConfigureAwait(false);
                    Log.WatchEnded(_logger, _options.Name, received, _resourceVersion);
                    if (received > 0 || _time.GetElapsedTime(started) >= MinimumQuietWatch)
                    {
                        // A normal end (server timeout): resume at once from where it stopped.
                        delay = _options.RetryMinDelay;
                        continue;
                    }
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (KubernetesGoneException ex)
                {
                    // The resume point was compacted away: only a new list can tell what changed.
                    mustList = true;
                    Log.Gone(_logger, _options.Name, _resourceVersion, ex.Message);
                    if (goneInARow++ == 0)
                    {
                        continue;
                    }

                    _lastError = ex.Message;
                }
                catch (Exception ex)
                {
                    // Dropped connections, server errors, malformed events, observer bugs: wait and carry on from the
                    // last resource version (or list again if the first list never completed).
                    _lastError = ex.Message;
                    Log.Failed(_logger, _options.Name, ex.GetType().Name, ex.Message, delay.TotalMilliseconds);
                }

                try
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.RetryMaxDelay.Ticks));
            }
        }
        finally
        {
            _synced.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : new CancellationToken(true));
        }
    }

    private async Task ListAsync(CancellationToken cancellationToken)
    {
        if (_listedOnce)
        {
            Interlocked.Increment(ref _relists);
        }

        var options = new ListOptions
        {
            LabelSelector = _options.LabelSelector,
            FieldSelector = _options.FieldSelector,
            Limit = _options.PageSize,
            SkipUndecodable = true,
        };
        var listed = new HashSet<string>(StringComparer.Ordinal);
        var skipped = new HashSet<string>(StringComparer.Ordinal);
        string? resourceVersion = null;
        int added = 0, updated = 0, deleted = 0;
        await foreach (var page in _client.ListPagesAsync<T>(_options.Namespace, options, cancellationToken).ConfigureAwait(false))
        {
            // Every page is a consistent snapshot at the list's revision, so its objects are applied at once and
            // observers start working while later pages arrive. Deletions wait for the complete list: a partial
            // one would report live objects as deleted.
            foreach (var item in page.Items)
            {
                if (Nameless(item) is { } nameless)
                {
                    Skip(nameless);
                    continue;
                }

                var key = KeyOf(item);
                listed.Add(key);
                Decoded(key);
                if (_cache.TryGetValue(key, out var old))
                {
                    if (old.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
                    {
                        _cache[key] = item;
                        updated++;
                        Notify(static (o, a, b) => o.OnUpdate(a, b!), old, item);
                    }
                }
                else
                {
                    _cache[key] = item;
                    added++;
                    Notify(static (o, a, _) => o.OnAdd(a), item, null);
                }
            }

            foreach (var undecodable in page.Undecodable)
            {
                if (Skip(undecodable) is { } key)
                {
                    skipped.Add(key);
                }
            }

            resourceVersion = page.Metadata.ResourceVersion;
        }

        // A skipped object still exists: it keeps the last version that decoded rather than being reported deleted.
        foreach (var key in _cache.Keys.Where(k => !listed.Contains(k) && !skipped.Contains(k)).ToList())
        {
            if (_cache.TryRemove(key, out var old))
            {
                deleted++;
                Notify(static (o, a, _) => o.OnDelete(a), old, null);
            }
        }

        _listedOnce = true;
        _resourceVersion = resourceVersion;
        Log.Listed(_logger, _options.Name, listed.Count, resourceVersion, added, updated, deleted);
    }

    /// <summary>Watches from the current resource version until the stream ends; returns the number of events seen.</summary>
    private async Task<int> WatchAsync(CancellationToken cancellationToken)
    {
        var seconds = (int)Math.Max(1, _options.WatchTimeout.TotalSeconds * (1 + Random.Shared.NextDouble()));
        var options = new WatchOptions
        {
            ResourceVersion = _resourceVersion,
            AllowBookmarks = true,
            LabelSelector = _options.LabelSelector,
            FieldSelector = _options.FieldSelector,
            TimeoutSeconds = seconds,
            SkipUndecodable = true,
        };

        var received = 0;
        await foreach (var ev in _client.WatchAsync<T>(_options.Namespace, options, cancellationToken).ConfigureAwait(false))
        {
            received++;
            Apply(ev);
        }

        return received;
    }

    private void Apply(WatchEvent<T> ev)
    {
        if (ev.Undecodable is { } undecodable)
        {
            ApplyUndecodable(ev.Type, undecodable);
            return;
        }

        var item = ev.Object;
        if (item is null)
        {
            return;
        }

        if (ev.Type != WatchEventType.Bookmark && Nameless(item) is { } nameless)
        {
            ApplyUndecodable(ev.Type, nameless);
            return;
        }

        switch (ev.Type)
        {
            case WatchEventType.Added:
            case WatchEventType.Modified:
                var key = KeyOf(item);
                Decoded(key);
                if (_cache.TryGetValue(key, out var old))
                {
                    if (old.Metadata.ResourceVersion != item.Metadata.ResourceVersion)
                    {
                        _cache[key] = item;
                        Notify(static (o, a, b) => o.OnUpdate(a, b!), old, item);
                    }
                }
                else
                {
                    _cache[key] = item;
                    Notify(static (o, a, _) => o.OnAdd(a), item, null);
                }

                break;
            case WatchEventType.Deleted:
                Decoded(KeyOf(item));
                if (_cache.TryRemove(KeyOf(item), out var last))
                {
                    Notify(static (o, a, _) => o.OnDelete(a), item.Metadata.ResourceVersion is null ? last : item, null);
                }

                break;
            case WatchEventType.Bookmark:
            default:
                break;
        }

        if (!string.IsNullOrEmpty(item.Metadata.ResourceVersion))
        {
            _resourceVersion = item.Metadata.ResourceVersion;
        }
    }

    /// <summary>
    /// An event whose object does not decode: skipped, except that a DELETED one still removes the cached object of that
    /// key, and its resource version still moves the resume point past it.
    /// </summary>
    private void ApplyUndecodable(WatchEventType type, UndecodableObject undecodable)
    {
        var key = Skip(undecodable);
        if (type == WatchEventType.Deleted && key is not null)
        {
            Decoded(key);
            if (_cache.TryRemove(key, out var last))
            {
                Notify(static (o, a, _) => o.OnDelete(a), last, null);
            }
        }

        if (!string.IsNullOrEmpty(undecodable.ResourceVersion))
        {
            _resourceVersion = undecodable.ResourceVersion;
        }
    }

    /// <summary>Logs (once per key and uid) and counts an object left out; returns its cache key when its metadata names it.</summary>
    private string? Skip(UndecodableObject undecodable)
    {
        var reason = UndecodableObject.ReasonTag(undecodable.Reason);
        KubernetesMetrics.InvalidObjects.Add(1, new KeyValuePair<string, object?>("resource", T.Resource.Plural), new KeyValuePair<string, object?>("reason", reason));
        var key = string.IsNullOrEmpty(undecodable.Name) ? null : KeyOf(undecodable.Namespace, undecodable.Name);
        var shown = key ?? "(no name)";
        if (key is null || _reportedUndecodable.Add(key + "|" + undecodable.Uid))
        {
            Log.Undecodable(_logger, _options.Name, T.Resource.Plural, shown, undecodable.Uid, undecodable.ResourceVersion, reason, undecodable.Error);
        }
        else
        {
            Log.UndecodableAgain(_logger, _options.Name, T.Resource.Plural, shown, undecodable.ResourceVersion, reason);
        }

        return key;
    }

    /// <summary>The object of <paramref name="key"/> decodes again: a later breakage is worth a warning again.</summary>
    private void Decoded(string key)
    {
        if (_reportedUndecodable.Count > 0)
        {
            _reportedUndecodable.RemoveWhere(k => k.StartsWith(key + "|", StringComparison.Ordinal));
        }
    }

    /// <summary>An object without a name has no key: it is treated like one that does not decode.</summary>
    private static UndecodableObject? Nameless(T item)
        => string.IsNullOrEmpty(item.Metadata.Name)
            ? new UndecodableObject(item.Metadata.Namespace, null, item.Metadata.Uid, item.Metadata.ResourceVersion, UndecodableReason.MissingName, "metadata.name is missing")
            : null;

    private void Notify(Action<IInformerObserver<T>, T, T?> call, T first, T? second)
    {
        if (_observer is null)
        {
            return;
        }

        try
        {
            call(_observer, first, second);
        }
        catch (Exception ex)
        {
            // An observer bug must not stop the informer or reorder what others see.
            Log.ObserverFailed(_logger, _options.Name, ex);
        }
    }
}
