using System.Collections.Immutable;
using System.Globalization;
using System.Text;

namespace Federation.NodeAgent.Datapath;

/// <summary>
/// Programs the service and backend maps to a desired set of services, writing only the
/// difference, in the order of DESIGN §5 so that a connect() in flight never finds a slot without
/// a backend: new backends, slots, master entries (new count), surplus slots, orphan backends.
/// </summary>
/// <remarks>
/// Its idea of what is programmed is read from the maps when it is created, so a restarted agent
/// (a new writer on the same pins) continues where the last one stopped, including after a crash
/// in the middle of an <see cref="Apply"/>: slots beyond a master's count, slots without a master
/// and unreferenced backends are removed by the next apply. Not thread-safe: one caller at a time.
/// </remarks>
internal sealed partial class ServiceMapWriter
{
    private const byte ScopeExternal = 0;

    private readonly ILbMapOps _maps;
    private readonly ILogger<ServiceMapWriter> _logger;

    private Dictionary<LbFrontend, Programmed> _services = [];
    private Dictionary<LbBackend, uint> _backendIds = [];
    private Dictionary<uint, LbBackend> _backends = [];
    private List<LbServiceKey> _staleKeys = [];
    private IdAllocator _backendIdAllocator = new(LbMapNames.BackendMapSize);
    private IdAllocator _revNatAllocator = new(ushort.MaxValue);

    public ServiceMapWriter(LbMaps maps, ILogger<ServiceMapWriter> logger)
        : this(new PinnedLbMapOps(maps), logger)
    {
    }

    /// <summary>A writer over any implementation of the map operations (tests record and check them).</summary>
    public ServiceMapWriter(ILbMapOps maps, ILogger<ServiceMapWriter> logger)
    {
        _maps = maps;
        _logger = logger;
        ReadBack();
    }

    /// <summary>The services as programmed in the maps (after the last apply, or as read back).</summary>
    public ImmutableDictionary<LbFrontend, LbService> ProgrammedServices => _services.ToImmutableDictionary(
        entry => entry.Key,
        entry => new LbService(entry.Key, [.. entry.Value.BackendIds.Select(id => _backends.TryGetValue(id, out var b) ? b : null).OfType<LbBackend>()]));

    /// <summary>The backend id of every programmed backend.</summary>
    public ImmutableDictionary<LbBackend, uint> BackendIds => _backendIds.ToImmutableDictionary();

    /// <summary>Makes the maps serve exactly <paramref name="desired"/>.</summary>
    public ServiceMapChange Apply(IEnumerable<LbService> desired)
    {
        var wanted = new Dictionary<LbFrontend, LbService>();
        foreach (var service in desired)
        {
            if (service.Backends.Length > ushort.MaxValue)
            {
                throw new ArgumentException($"{service.Frontend} has {service.Backends.Length} backends; at most {ushort.MaxValue} fit", nameof(desired));
            }

            if (service.Backends.Any(b => b.Protocol != service.Frontend.Protocol))
            {
                throw new ArgumentException($"{service.Frontend} has backends of another protocol", nameof(desired));
            }

            if (!wanted.TryAdd(service.Frontend, service))
            {
                throw new ArgumentException($"{service.Frontend} is listed twice", nameof(desired));
            }
        }

        try
        {
            var change = ApplyCore(wanted);
            Log.Applied(_logger, change.BackendsAdded, change.SlotsWritten, change.MastersWritten, change.SlotsDeleted, change.ServicesDeleted, change.BackendsDeleted);
            return change;
        }
        catch (BpfException exception)
        {
            // The maps are the truth; what was written before the failure stays and is diffed next time.
            Log.ApplyFailed(_logger, exception);
            ReadBack();
            throw;
        }
    }

    private ServiceMapChange ApplyCore(Dictionary<LbFrontend, LbService> wanted)
    {
        int backendsAdded = 0, slotsWritten = 0, mastersWritten = 0, slotsDeleted = 0, servicesDeleted = 0, backendsDeleted = 0;

        // 1. New backends.
        foreach (var backend in wanted.Values.SelectMany(s => s.Backends).Distinct())
        {
            if (_backendIds.ContainsKey(backend))
            {
                continue;
            }

            var id = _backendIdAllocator.Allocate();
            _maps.UpdateBackend(id, ToValue(backend));
            _backendIds[backend] = id;
            _backends[id] = backend;
            backendsAdded++;
        }

        // 2. Slots: a slot that changes is overwritten in place (one atomic map update).
        var next = new Dictionary<LbFrontend, Programmed>();
        foreach (var (frontend, service) in wanted)
        {
            var ids = service.Backends.Select(b => _backendIds[b]).ToImmutableArray();
            _services.TryGetValue(frontend, out var current);
            for (var slot = 1; slot <= ids.Length; slot++)
            {
                if (current is null || slot > current.BackendIds.Length || current.BackendIds[slot - 1] != ids[slot - 1])
                {
                    _maps.UpdateService(Key(frontend, slot), new LbServiceValue { BackendId = ids[slot - 1] });
                    slotsWritten++;
                }
            }

            var revNatId = current?.RevNatId ?? (ushort)_revNatAllocator.Allocate();
            next[frontend] = new Programmed(revNatId, ids, Math.Max(ids.Length, current?.SlotsInMap ?? 0), current is null || current.BackendIds.Length != ids.Length);
        }

        // 3. Master entries with the new count.
        foreach (var (frontend, programmed) in next)
        {
            if (programmed.MasterStale)
            {
                _maps.UpdateService(Key(frontend, 0), new LbServiceValue { Count = (ushort)programmed.BackendIds.Length, RevNatId = programmed.RevNatId });
                mastersWritten++;
            }
        }

        // 4. Surplus slots, then services that went away (master first, so no new lookup starts).
        foreach (var (frontend, programmed) in next)
        {
            for (var slot = programmed.BackendIds.Length + 1; slot <= programmed.SlotsInMap; slot++)
            {
                _maps.DeleteService(Key(frontend, slot));
                slotsDeleted++;
            }

            next[frontend] = programmed with { SlotsInMap = programmed.BackendIds.Length, MasterStale = false };
        }

        foreach (var (frontend, programmed) in _services)
        {
            if (next.ContainsKey(frontend))
            {
                continue;
            }

            _maps.DeleteService(Key(frontend, 0));
            for (var slot = 1; slot <= programmed.SlotsInMap; slot++)
            {
                _maps.DeleteService(Key(frontend, slot));
            }

            _revNatAllocator.Release(programmed.RevNatId);
            servicesDeleted++;
        }

        foreach (var key in _staleKeys)
        {
            // A slot an interrupted apply left without a master may belong to a service this apply
            // (re)created: it has just been overwritten and is counted, so it stays.
            if (key.Scope == ScopeExternal && key.Slot != 0 && next.TryGetValue(FromKey(key), out var owner) && key.Slot <= owner.BackendIds.Length)
            {
                continue;
            }

            _maps.DeleteService(key);
            slotsDeleted++;
        }

        _staleKeys = [];
        _services = next;

        // 5. Orphan backends.
        var referenced = next.Values.SelectMany(p => p.BackendIds).ToHashSet();
        foreach (var (id, backend) in _backends.Where(entry => !referenced.Contains(entry.Key)).ToList())
        {
            _maps.DeleteBackend(id);
            _backends.Remove(id);
            _backendIds.Remove(backend);
            _backendIdAllocator.Release(id);
            backendsDeleted++;
        }

        return new ServiceMapChange(backendsAdded, slotsWritten, mastersWritten, slotsDeleted, servicesDeleted, backendsDeleted);
    }

    /// <summary>The maps as they are now (read from the kernel, not from memory), in a stable order.</summary>
    public IReadOnlyList<ServiceMapRow> Dump()
    {
        var backends = new Dictionary<uint, LbBackendValue>();
        foreach (var id in _maps.BackendKeys())
        {
            if (_maps.TryLookupBackend(id, out LbBackendValue value))
            {
                backends[id] = value;
            }
        }

        var rows = new List<(LbServiceKey Key, ServiceMapRow Row)>();
        foreach (var key in _maps.ServiceKeys())
        {
            if (!_maps.TryLookupService(key, out LbServiceValue value))
            {
                continue;
            }

            var service = FromKey(key).ToString();
            if (key.Slot == 0)
            {
                rows.Add((key, new ServiceMapRow(service, 0, 0, "", 0, value.Count, value.RevNatId)));
            }
            else if (backends.TryGetValue(value.BackendId, out var backend))
            {
                rows.Add((key, new ServiceMapRow(service, key.Slot, value.BackendId, FromValue(backend).ToString(), backend.ClusterId, 0, 0)));
            }
            else
            {
                rows.Add((key, new ServiceMapRow(service, key.Slot, value.BackendId, "(missing)", 0, 0, 0)));
            }
        }

        return [.. rows
            .OrderBy(r => System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(r.Key.Vip))
            .ThenBy(r => NetOrder.Port(r.Key.Port))
            .ThenBy(r => r.Key.Proto)
            .ThenBy(r => r.Key.Slot)
            .Select(r => r.Row)];
    }

    /// <summary>Formats <see cref="Dump"/> rows as a table for people.</summary>
    public static string FormatTable(IEnumerable<ServiceMapRow> rows)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{"SERVICE",-26} {"SLOT",4} {"BACKEND ID",10} {"BACKEND",-26} {"CLUSTER",7}");
        foreach (var row in rows)
        {
            var backend = row.Slot == 0 ? $"(master: {row.Count} backends, rev-NAT {row.RevNatId})" : row.Backend;
            var cluster = row.Slot == 0 ? "" : row.ClusterId.ToString(CultureInfo.InvariantCulture);
            var id = row.Slot == 0 ? "" : row.BackendId.ToString(CultureInfo.InvariantCulture);
            text.AppendLine(CultureInfo.InvariantCulture, $"{row.Service,-26} {row.Slot,4} {id,10} {backend,-26} {cluster,7}");
        }

        return text.ToString();
    }

    private void ReadBack()
    {
        var backends = new Dictionary<uint, LbBackend>();
        var backendIds = new Dictionary<LbBackend, uint>();
        var backendAllocator = new IdAllocator(LbMapNames.BackendMapSize);
        foreach (var id in _maps.BackendKeys())
        {
            if (!_maps.TryLookupBackend(id, out LbBackendValue value))
            {
                continue;
            }

            var backend = FromValue(value);
            backendAllocator.Reserve(id);
            backends[id] = backend;
            // Two ids for one backend can only come from an interrupted writer: keep the first, the other is an orphan.
            backendIds.TryAdd(backend, id);
        }

        var masters = new Dictionary<LbFrontend, LbServiceValue>();
        var slots = new Dictionary<(LbFrontend, int), (LbServiceKey Key, uint BackendId)>();
        var stale = new List<LbServiceKey>();
        foreach (var key in _maps.ServiceKeys())
        {
            if (!_maps.TryLookupService(key, out LbServiceValue value))
            {
                continue;
            }

            if (key.Scope != ScopeExternal || (key.Proto != (byte)LbProtocol.Tcp && key.Proto != (byte)LbProtocol.Udp))
            {
                stale.Add(key);
            }
            else if (key.Slot == 0)
            {
                masters[FromKey(key)] = value;
            }
            else
            {
                slots[(FromKey(key), key.Slot)] = (key, value.BackendId);
            }
        }

        var services = new Dictionary<LbFrontend, Programmed>();
        var revNatAllocator = new IdAllocator(ushort.MaxValue);
        foreach (var (frontend, master) in masters)
        {
            var ids = ImmutableArray.CreateBuilder<uint>(master.Count);
            var complete = true;
            for (var slot = 1; slot <= master.Count; slot++)
            {
                if (slots.Remove((frontend, slot), out var entry) && backends.TryGetValue(entry.BackendId, out var backend) && backendIds[backend] == entry.BackendId)
                {
                    ids.Add(entry.BackendId);
                }
                else
                {
                    complete = false;
                }
            }

            // Slots above the count stay counted in SlotsInMap, so the next apply deletes them.
            var slotsInMap = slots.Keys.Where(k => k.Item1.Equals(frontend)).Select(k => k.Item2).DefaultIfEmpty(0).Max();
            foreach (var extra in slots.Keys.Where(k => k.Item1.Equals(frontend)).ToList())
            {
                slots.Remove(extra);
            }

            revNatAllocator.Reserve(master.RevNatId);
            // An incomplete service (a slot or backend missing) is rewritten in full by the next apply.
            var programmed = complete
                ? new Programmed(master.RevNatId, ids.ToImmutable(), Math.Max(master.Count, slotsInMap), false)
                : new Programmed(master.RevNatId, [], Math.Max(master.Count, slotsInMap), true);
            services[frontend] = programmed;
        }

        // Slots without a master: a service whose creation was interrupted before step 3.
        stale.AddRange(slots.Values.Select(s => s.Key));

        _services = services;
        _backends = backends;
        _backendIds = backendIds;
        _backendIdAllocator = backendAllocator;
        _revNatAllocator = revNatAllocator;
        _staleKeys = stale;
        Log.ReadBack(_logger, services.Count, backends.Count, stale.Count);
    }

    private static LbServiceKey Key(LbFrontend frontend, int slot) => new()
    {
        Vip = NetOrder.Address(frontend.Vip),
        Port = NetOrder.Port(frontend.Port),
        Slot = (ushort)slot,
        Proto = (byte)frontend.Protocol,
        Scope = ScopeExternal,
    };

    private static LbFrontend FromKey(LbServiceKey key)
        => new(NetOrder.Address(key.Vip), NetOrder.Port(key.Port), (LbProtocol)key.Proto);

    private static LbBackendValue ToValue(LbBackend backend) => new()
    {
        Addr = NetOrder.Address(backend.Address),
        Port = NetOrder.Port(backend.Port),
        Proto = (byte)backend.Protocol,
        State = 0,
        ClusterId = backend.ClusterId,
    };

    private static LbBackend FromValue(LbBackendValue value)
        => new(NetOrder.Address(value.Addr), NetOrder.Port(value.Port), (LbProtocol)value.Proto, value.ClusterId);

    /// <param name="RevNatId">The service's reverse-NAT id (kept for its lifetime).</param>
    /// <param name="BackendIds">Backend id of slot 1.., i.e. what the master's count covers.</param>
    /// <param name="SlotsInMap">The highest slot that may exist in the map (surplus included).</param>
    /// <param name="MasterStale">The master entry must be (re)written.</param>
    private sealed record Programmed(ushort RevNatId, ImmutableArray<uint> BackendIds, int SlotsInMap, bool MasterStale);
}
