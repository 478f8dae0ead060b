using System.Collections.Immutable;
using System.Globalization;

namespace Federation.NodeAgent.Tunnels;

/// <summary>A node's IPsec endpoint: its underlay IP and pod CIDRs.</summary>
internal sealed record IpsecNode(string Name, string UnderlayIP, ImmutableArray<string> PodCidrs);

/// <summary>One xfrm state (an SA, one direction of one node pair, one SPI).</summary>
internal sealed record XfrmState(string Source, string Destination, byte Spi, ImmutableArray<string> AlgorithmArguments)
{
    public bool Equals(XfrmState? other) =>
        other is not null && Source == other.Source && Destination == other.Destination && Spi == other.Spi && AlgorithmArguments.SequenceEqual(other.AlgorithmArguments);

    public override int GetHashCode() => HashCode.Combine(Source, Destination, Spi);

    /// <summary>The <c>ip</c> arguments that install it.</summary>
    public ImmutableArray<string> ToIpArguments() =>
        ["xfrm", "state", "add", "src", Source, "dst", Destination, "proto", "esp", "spi", IpsecConfig.Hex(Spi), "reqid", IpsecConfig.ReqId, "mode", "tunnel", .. AlgorithmArguments];
}

/// <summary>One xfrm policy: traffic between two pod CIDRs goes through ESP between two node IPs (an SPI only for "out").</summary>
internal sealed record XfrmPolicy(string SourceCidr, string DestinationCidr, string Direction, string TunnelSource, string TunnelDestination, byte? Spi)
{
    public ImmutableArray<string> ToIpArguments() =>
        ["xfrm", "policy", "add", "src", SourceCidr, "dst", DestinationCidr, "dir", Direction,
            "tmpl", "src", TunnelSource, "dst", TunnelDestination, "proto", "esp", .. Spi is { } spi ? new[] { "spi", IpsecConfig.Hex(spi) } : [], "reqid", IpsecConfig.ReqId, "mode", "tunnel"];
}

/// <summary>The xfrm configuration of one node: states for every active key and every remote node, policies for the current key.</summary>
internal sealed record IpsecConfig(ImmutableArray<XfrmState> States, ImmutableArray<XfrmPolicy> Policies)
{
    internal const string ReqId = "1";

    /// <summary>The <c>ip</c> argument lists to install it on an empty xfrm table, states before policies.</summary>
    public IEnumerable<ImmutableArray<string>> Commands => States.Select(s => s.ToIpArguments()).Concat(Policies.Select(p => p.ToIpArguments()));

    /// <summary>
    /// States both ways for each remote node and each key of <paramref name="keys"/> still active (the current one and
    /// those in their grace period, so packets a peer still sends with the old SPI are accepted); the "out" policy names
    /// the current SPI, "in" and "fwd" accept any.
    /// </summary>
    public static IpsecConfig Generate(IpsecNode local, IEnumerable<IpsecNode> remotes, IpsecKeyRing keys, DateTimeOffset now)
    {
        var active = keys.Active(now);
        var states = ImmutableArray.CreateBuilder<XfrmState>();
        var policies = ImmutableArray.CreateBuilder<XfrmPolicy>();
        foreach (var remote in remotes.OrderBy(r => r.Name, StringComparer.Ordinal))
        {
            foreach (var key in active)
            {
                states.Add(new XfrmState(local.UnderlayIP, remote.UnderlayIP, key.Spi, key.AlgorithmArguments));
                states.Add(new XfrmState(remote.UnderlayIP, local.UnderlayIP, key.Spi, key.AlgorithmArguments));
            }

            foreach (var localCidr in local.PodCidrs)
            {
                foreach (var remoteCidr in remote.PodCidrs)
                {
                    policies.Add(new XfrmPolicy(localCidr, remoteCidr, "out", local.UnderlayIP, remote.UnderlayIP, keys.Current.Spi));
                    policies.Add(new XfrmPolicy(remoteCidr, localCidr, "in", remote.UnderlayIP, local.UnderlayIP, null));
                    policies.Add(new XfrmPolicy(remoteCidr, localCidr, "fwd", remote.UnderlayIP, local.UnderlayIP, null));
                }
            }
        }

        return new IpsecConfig(states.ToImmutable(), policies.ToImmutable());
    }

    internal static string Hex(byte spi) => "0x" + spi.ToString("x", CultureInfo.InvariantCulture);
}

/// <summary>The current IPsec key and the previous ones still in their grace period.</summary>
internal sealed record IpsecKeyRing(IpsecKey Current, ImmutableArray<(IpsecKey Key, DateTimeOffset RetireAt)> Retiring)
{
    public static IpsecKeyRing Of(IpsecKey key) => new(key, []);

    /// <summary>
    /// Makes <paramref name="next"/> current; the current key stays active until <paramref name="now"/> + <paramref name="grace"/>.
    /// The SPI must change (that is how receivers tell the keys apart).
    /// </summary>
    public IpsecKeyRing Rotate(IpsecKey next, DateTimeOffset now, TimeSpan grace)
    {
        if (next.Equals(Current))
        {
            return this;
        }

        if (next.Spi == Current.Spi)
        {
            throw new ArgumentException($"a new IPsec key needs a new SPI (the current one is {Current.Spi})", nameof(next));
        }

        return new IpsecKeyRing(next, [.. Retiring.Where(r => r.Key.Spi != next.Spi), (Current, now + grace)]);
    }

    /// <summary>The current key, then the retiring ones whose grace period has not ended.</summary>
    public ImmutableArray<IpsecKey> Active(DateTimeOffset now) => [Current, .. Retiring.Where(r => r.RetireAt > now).Select(r => r.Key)];
}
