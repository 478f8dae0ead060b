using Federation.NodeAgent.Processes;

namespace Federation.NodeAgent.Tunnels;

/// <summary>Whether this kernel can run IPsec (xfrm with ESP), and if not, why.</summary>
internal sealed record IpsecSupport(bool Available, string Reason)
{
    /// <summary>The probe algorithm: what <see cref="IpsecKeyFile"/> defaults to and Cilium uses.</summary>
    private const string ProbeAlgorithm = "rfc4106(gcm(aes))";

    /// <summary>
    /// Installs one ESP state in a throwaway network namespace (so the host's xfrm tables are never touched) and
    /// reports whether the kernel took it, with the kernel's own message when it did not.
    /// </summary>
    public static async Task<IpsecSupport> DetectAsync(string ipPath = "ip", CancellationToken cancellationToken = default)
    {
        if (!File.Exists("/proc/net/xfrm_stat"))
        {
            return new IpsecSupport(false, "the kernel has no xfrm (no /proc/net/xfrm_stat): IPsec is unavailable, use WireGuard");
        }

        var netns = $"fedipsec-probe-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";
        await ProcessRunner.RunCheckedAsync(ipPath, ["netns", "add", netns], cancellationToken: cancellationToken).ConfigureAwait(false);
        try
        {
            var result = await ProcessRunner.RunAsync(
                ipPath,
                ["-n", netns, "xfrm", "state", "add", "src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp", "spi", "0x1", "reqid", "1", "mode", "tunnel",
                    "aead", ProbeAlgorithm, "0x" + new string('1', 40), "128"],
                cancellationToken: cancellationToken).ConfigureAwait(false);
            return result.Succeeded
                ? new IpsecSupport(true, $"the kernel accepts ESP states with {ProbeAlgorithm}")
                : new IpsecSupport(false, $"the kernel has no ESP with {ProbeAlgorithm} (`ip xfrm state add ... proto esp` failed: {result.StandardError.Trim()}): IPsec is unavailable, use WireGuard");
        }
        finally
        {
            await ProcessRunner.RunAsync(ipPath, ["netns", "del", netns], cancellationToken: CancellationToken.None).ConfigureAwait(false);
        }
    }
}
