using Federation.NodeAgent.Processes;

namespace Federation.NodeAgent.Tunnels;

/// <summary>
/// The node's WireGuard key pair. The private key is generated once (<c>wg genkey</c>), kept mode 0600 in the
/// agent's state directory and reused across restarts, so remote peers keep the public key they know.
/// </summary>
internal sealed class WireGuardKeys
{
    /// <summary>The Node annotation that carries the public key into the node record (<c>WireguardPubKey</c>).</summary>
    public const string PublicKeyAnnotation = "network.cilium.io/wg-pub-key";

    /// <summary>The file name of the private key in the state directory.</summary>
    public const string FileName = "wireguard.key";

    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private WireGuardKeys(string privateKeyPath, string privateKey, string publicKey, bool generated)
    {
        PrivateKeyPath = privateKeyPath;
        PrivateKey = privateKey;
        PublicKey = publicKey;
        Generated = generated;
    }

    /// <summary>The file holding the private key (base64, mode 0600), as <c>wg set private-key</c> reads it.</summary>
    public string PrivateKeyPath { get; }

    /// <summary>The public key, base64 (44 characters), for <see cref="PublicKeyAnnotation"/>.</summary>
    public string PublicKey { get; }

    /// <summary>True when this call created the key (first start), false when it was read back.</summary>
    public bool Generated { get; }

    internal string PrivateKey { get; }

    /// <summary>
    /// Reads the private key of <paramref name="stateDirectory"/>, or generates and stores one when there is none.
    /// A stored file that holds no valid key throws <see cref="InvalidDataException"/> naming the file: replacing the key
    /// silently would cut the node off from every peer that knows the old public key.
    /// </summary>
    public static async Task<WireGuardKeys> LoadOrCreateAsync(string stateDirectory, string wgPath = "wg", CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(stateDirectory);
        var path = Path.Combine(stateDirectory, FileName);
        var generated = false;
        string privateKey;
        if (File.Exists(path))
        {
            privateKey = (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim();
            if (!IsValidKey(privateKey))
            {
                throw new InvalidDataException(
                    $"{path} holds no WireGuard private key (expected 44 base64 characters encoding 32 bytes). "
                    + "Restore it, or delete it to generate a new key (remote nodes then need the new public key).");
            }

            if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & ~OwnerOnly) != 0)
            {
                File.SetUnixFileMode(path, OwnerOnly);
            }
        }
        else
        {
            privateKey = (await ProcessRunner.RunCheckedAsync(wgPath, ["genkey"], cancellationToken: cancellationToken).ConfigureAwait(false)).StandardOutput.Trim();
            var temporary = path + ".tmp";
            File.Delete(temporary);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnly;
            }

            await using (var stream = new FileStream(temporary, options))
            await using (var writer = new StreamWriter(stream))
            {
                await writer.WriteLineAsync(privateKey.AsMemory(), cancellationToken).ConfigureAwait(false);
                await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            // Rename last: a crash never leaves a half-written key behind under the real name.
            File.Move(temporary, path);
            generated = true;
        }

        var publicKey = (await ProcessRunner.RunCheckedAsync(wgPath, ["pubkey"], new ProcessRunOptions { StandardInput = privateKey + "\n" }, cancellationToken)
            .ConfigureAwait(false)).StandardOutput.Trim();
        return new WireGuardKeys(path, privateKey, publicKey, generated);
    }

    /// <summary>True for a WireGuard key as <c>wg</c> prints it: base64 of exactly 32 bytes.</summary>
    public static bool IsValidKey(string? key)
    {
        if (key is null || key.Length != 44)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[33];
        return Convert.TryFromBase64String(key, bytes, out var written) && written == 32;
    }
}
