using System.Collections.Immutable;
using System.Globalization;

namespace Federation.NodeAgent.Tunnels;

/// <summary>One peer line of <c>wg show &lt;if&gt; dump</c>.</summary>
internal sealed record WireGuardDumpPeer
{
    public required string PublicKey { get; init; }

    /// <summary>"ip:port", or null when the peer has no endpoint yet.</summary>
    public string? Endpoint { get; init; }

    public ImmutableArray<string> AllowedIps { get; init; } = [];

    /// <summary>Null when the peer never completed a handshake.</summary>
    public DateTimeOffset? LatestHandshake { get; init; }

    public long ReceivedBytes { get; init; }

    public long TransmittedBytes { get; init; }

    /// <summary>Seconds, 0 when off.</summary>
    public int PersistentKeepalive { get; init; }
}

/// <summary>The parsed output of <c>wg show &lt;if&gt; dump</c>.</summary>
internal sealed record WireGuardDump
{
    public string? PublicKey { get; init; }

    public int ListenPort { get; init; }

    public ImmutableArray<WireGuardDumpPeer> Peers { get; init; } = [];

    /// <summary>
    /// Parses the tab-separated dump: first line <c>private-key public-key listen-port fwmark</c>, then one line per peer
    /// <c>public-key preshared-key endpoint allowed-ips latest-handshake rx tx persistent-keepalive</c>.
    /// Throws <see cref="FormatException"/> for text that is not such a dump.
    /// </summary>
    public static WireGuardDump Parse(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
        {
            throw new FormatException("empty `wg show dump` output");
        }

        var head = lines[0].Split('\t');
        if (head.Length != 4)
        {
            throw new FormatException($"`wg show dump` interface line has {head.Length} fields, expected 4: {lines[0]}");
        }

        var peers = ImmutableArray.CreateBuilder<WireGuardDumpPeer>(lines.Length - 1);
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split('\t');
            if (f.Length != 8)
            {
                throw new FormatException($"`wg show dump` peer line has {f.Length} fields, expected 8: {line}");
            }

            var handshake = long.Parse(f[4], CultureInfo.InvariantCulture);
            peers.Add(new WireGuardDumpPeer
            {
                PublicKey = f[0],
                Endpoint = f[2] == "(none)" ? null : f[2],
                AllowedIps = f[3] == "(none)" ? [] : [.. f[3].Split(',', StringSplitOptions.RemoveEmptyEntries)],
                LatestHandshake = handshake == 0 ? null : DateTimeOffset.FromUnixTimeSeconds(handshake),
                ReceivedBytes = long.Parse(f[5], CultureInfo.InvariantCulture),
                TransmittedBytes = long.Parse(f[6], CultureInfo.InvariantCulture),
                PersistentKeepalive = f[7] == "off" ? 0 : int.Parse(f[7], CultureInfo.InvariantCulture),
            });
        }

        return new WireGuardDump
        {
            PublicKey = head[1] == "(none)" ? null : head[1],
            ListenPort = int.Parse(head[2], CultureInfo.InvariantCulture),
            Peers = peers.ToImmutable(),
        };
    }
}
