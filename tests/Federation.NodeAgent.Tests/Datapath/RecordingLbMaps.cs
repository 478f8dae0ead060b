using System.Collections.Immutable;
using System.Net;
using Federation.NodeAgent.Datapath;

namespace Federation.NodeAgent.Tests.Datapath;

/// <summary>
/// In-memory service and backend maps that record every operation and, after each one, check what a
/// connect() in flight relies on: every master entry with count N has slots 1..N, and every such
/// slot's backend id is in the backend map. The first violation is kept with the operation that caused it.
/// </summary>
internal sealed class RecordingLbMaps : ILbMapOps
{
    private readonly Dictionary<(uint Vip, ushort Port, ushort Slot, byte Proto, byte Scope), (LbServiceKey Key, LbServiceValue Value)> _services = [];
    private readonly Dictionary<uint, LbBackendValue> _backends = [];
    private readonly List<string> _operations = [];

    /// <summary>Every operation so far, e.g. <c>update-backend 3</c>, <c>update-service 10.96.0.1:80/6#2</c>.</summary>
    public IReadOnlyList<string> Operations => _operations;

    /// <summary>The first broken invariant, with the operation after which it was seen; null while none.</summary>
    public string? Violation { get; private set; }

    /// <summary>How many times the invariant was checked (once per operation that changed a map).</summary>
    public int Checks { get; private set; }

    /// <summary>Makes the n-th next mutating operation (1 = the next one) throw, as a failing kernel call would.</summary>
    public int? FailAfter { get; set; }

    public int ServiceEntries => _services.Count;

    public int BackendEntries => _backends.Count;

    public void UpdateService(LbServiceKey key, LbServiceValue value)
    {
        Mutating();
        _services[Id(key)] = (key, value);
        Record($"update-service {Describe(key)}");
    }

    public bool DeleteService(LbServiceKey key)
    {
        Mutating();
        var removed = _services.Remove(Id(key));
        Record($"delete-service {Describe(key)}");
        return removed;
    }

    public bool TryLookupService(LbServiceKey key, out LbServiceValue value)
    {
        var found = _services.TryGetValue(Id(key), out var entry);
        value = entry.Value;
        return found;
    }

    public List<LbServiceKey> ServiceKeys() => [.. _services.Values.Select(e => e.Key)];

    public void UpdateBackend(uint id, LbBackendValue value)
    {
        Mutating();
        _backends[id] = value;
        Record($"update-backend {id}");
    }

    public bool DeleteBackend(uint id)
    {
        Mutating();
        var removed = _backends.Remove(id);
        Record($"delete-backend {id}");
        return removed;
    }

    public bool TryLookupBackend(uint id, out LbBackendValue value) => _backends.TryGetValue(id, out value);

    public List<uint> BackendKeys() => [.. _backends.Keys];

    /// <summary>The services a connect() would see now: each master's slots 1..count resolved to backends.</summary>
    public ImmutableDictionary<LbFrontend, LbService> Served()
    {
        var result = ImmutableDictionary.CreateBuilder<LbFrontend, LbService>();
        foreach (var (key, value) in _services.Values.Where(e => e.Key.Slot == 0))
        {
            var frontend = new LbFrontend(NetOrder.Address(key.Vip), NetOrder.Port(key.Port), (LbProtocol)key.Proto);
            var backends = ImmutableArray.CreateBuilder<LbBackend>();
            for (var slot = 1; slot <= value.Count; slot++)
            {
                var backend = _backends[_services[Id(key) with { Slot = (ushort)slot }].Value.BackendId];
                backends.Add(new LbBackend(NetOrder.Address(backend.Addr), NetOrder.Port(backend.Port), (LbProtocol)backend.Proto, backend.ClusterId));
            }

            result[frontend] = new LbService(frontend, backends.ToImmutable());
        }

        return result.ToImmutable();
    }

    /// <summary>Service map entries that no master covers (slots above a count or without a master).</summary>
    public int UncoveredSlots() => _services.Values.Count(e =>
        e.Key.Slot != 0
        && !(_services.TryGetValue(Id(e.Key) with { Slot = 0 }, out var master) && e.Key.Slot <= master.Value.Count));

    /// <summary>Backends no slot refers to.</summary>
    public int UnreferencedBackends()
    {
        var referenced = _services.Values.Where(e => e.Key.Slot != 0).Select(e => e.Value.BackendId).ToHashSet();
        return _backends.Keys.Count(id => !referenced.Contains(id));
    }

    private void Mutating()
    {
        if (FailAfter is { } n)
        {
            FailAfter = n - 1;
            if (n <= 1)
            {
                FailAfter = null;
                throw new BpfException("recorded map: injected failure", -5);
            }
        }
    }

    private void Record(string operation)
    {
        _operations.Add(operation);
        Checks++;
        if (Violation is null && Check() is { } problem)
        {
            Violation = $"after operation {_operations.Count} ({operation}): {problem}; the operations before it: {string.Join(", ", _operations.TakeLast(40))}";
        }
    }

    private string? Check()
    {
        foreach (var (key, value) in _services.Values.Where(e => e.Key.Slot == 0))
        {
            for (var slot = 1; slot <= value.Count; slot++)
            {
                if (!_services.TryGetValue(Id(key) with { Slot = (ushort)slot }, out var entry))
                {
                    return $"{Describe(key)} counts {value.Count} slots but slot {slot} is missing";
                }

                if (!_backends.ContainsKey(entry.Value.BackendId))
                {
                    return $"{Describe(entry.Key)} refers to backend {entry.Value.BackendId}, which is not in the backend map";
                }
            }
        }

        return null;
    }

    private static (uint Vip, ushort Port, ushort Slot, byte Proto, byte Scope) Id(LbServiceKey key) => (key.Vip, key.Port, key.Slot, key.Proto, key.Scope);

    private static string Describe(LbServiceKey key)
        => $"{NetOrder.Address(key.Vip)}:{NetOrder.Port(key.Port)}/{key.Proto}#{key.Slot}";

    /// <summary>A TCP backend 10.0.&lt;n/250&gt;.&lt;n%250+1&gt;:8080 of cluster <paramref name="cluster"/>.</summary>
    public static LbBackend Backend(int n, ushort cluster = 1)
        => new(IPAddress.Parse($"10.0.{n / 250}.{(n % 250) + 1}"), 8080, LbProtocol.Tcp, cluster);

    /// <summary>A TCP frontend 127.96.&lt;n/250&gt;.&lt;n%250+1&gt;:80.</summary>
    public static LbFrontend Frontend(int n) => new(IPAddress.Parse($"127.96.{n / 250}.{(n % 250) + 1}"), 80, LbProtocol.Tcp);
}
