namespace Federation.NodeAgent.Datapath;

/// <summary>
/// The map operations <see cref="ServiceMapWriter"/> uses on the service and backend maps: the pinned
/// kernel maps in the agent (<see cref="PinnedLbMapOps"/>), an in-memory recording in tests that check
/// the write order after every single operation.
/// </summary>
internal interface ILbMapOps
{
    void UpdateService(LbServiceKey key, LbServiceValue value);

    /// <summary>Deletes a service map entry; false if it was not there.</summary>
    bool DeleteService(LbServiceKey key);

    bool TryLookupService(LbServiceKey key, out LbServiceValue value);

    /// <summary>All service map keys at the time of the call.</summary>
    List<LbServiceKey> ServiceKeys();

    void UpdateBackend(uint id, LbBackendValue value);

    /// <summary>Deletes a backend; false if it was not there.</summary>
    bool DeleteBackend(uint id);

    bool TryLookupBackend(uint id, out LbBackendValue value);

    /// <summary>All backend ids at the time of the call.</summary>
    List<uint> BackendKeys();
}

/// <summary>The operations over the node's pinned <see cref="LbMaps"/>.</summary>
internal sealed class PinnedLbMapOps(LbMaps maps) : ILbMapOps
{
    public void UpdateService(LbServiceKey key, LbServiceValue value) => maps.Services.Update(key, value);

    public bool DeleteService(LbServiceKey key) => maps.Services.Delete(key);

    public bool TryLookupService(LbServiceKey key, out LbServiceValue value) => maps.Services.TryLookup(key, out value);

    public List<LbServiceKey> ServiceKeys() => maps.Services.Keys<LbServiceKey>();

    public void UpdateBackend(uint id, LbBackendValue value) => maps.Backends.Update(id, value);

    public bool DeleteBackend(uint id) => maps.Backends.Delete(id);

    public bool TryLookupBackend(uint id, out LbBackendValue value) => maps.Backends.TryLookup(id, out value);

    public List<uint> BackendKeys() => maps.Backends.Keys<uint>();
}
