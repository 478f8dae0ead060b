using Federation.Etcd.Store;

namespace Federation.Etcd.Tests.TestSupport;

/// <summary>Records what a watch store reports, and keeps the resulting state.</summary>
internal sealed class RecordingObserver<T> : IWatchStoreObserver<T>
{
    private readonly Lock _gate = new();
    private readonly List<(string Op, string Key)> _events = [];
    private readonly Dictionary<string, T> _state = new(StringComparer.Ordinal);

    public bool IsSynced { get; private set; }

    public IReadOnlyList<(string Op, string Key)> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyDictionary<string, T> State
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, T>(_state, StringComparer.Ordinal);
            }
        }
    }

    public void OnUpsert(string key, T value)
    {
        lock (_gate)
        {
            _events.Add(("upsert", key));
            _state[key] = value;
        }
    }

    public void OnDelete(string key, T lastValue)
    {
        lock (_gate)
        {
            _events.Add(("delete", key));
            _state.Remove(key);
        }
    }

    public void OnSynced() => IsSynced = true;
}
