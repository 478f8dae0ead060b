using System.Runtime.Versioning;
using Federation.NodeAgent.Tunnels;

namespace Federation.NodeAgent.Tests.Tunnels;

[SupportedOSPlatform("linux")] // wg and file modes: the tests run where the agent runs
public sealed class WireGuardKeysTests : IDisposable
{
    private readonly string _state = Path.Combine(Path.GetTempPath(), $"fedwg-keys-{Guid.NewGuid():N}");

    [Fact]
    public async Task The_private_key_is_stored_owner_only_and_reused_after_a_restart()
    {
        var first = await WireGuardKeys.LoadOrCreateAsync(_state);
        Assert.True(first.Generated);
        Assert.True(WireGuardKeys.IsValidKey(first.PublicKey));
        Assert.Equal(Path.Combine(_state, WireGuardKeys.FileName), first.PrivateKeyPath);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first.PrivateKeyPath));

        var restarted = await WireGuardKeys.LoadOrCreateAsync(_state);
        Assert.False(restarted.Generated);
        Assert.Equal(first.PublicKey, restarted.PublicKey);
        Assert.Equal(first.PrivateKey, restarted.PrivateKey);
        Assert.NotEqual(first.PublicKey, first.PrivateKey);
    }

    [Fact]
    public async Task A_stored_key_readable_by_others_is_tightened_to_0600()
    {
        var first = await WireGuardKeys.LoadOrCreateAsync(_state);
        File.SetUnixFileMode(first.PrivateKeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var again = await WireGuardKeys.LoadOrCreateAsync(_state);

        Assert.Equal(first.PublicKey, again.PublicKey);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(first.PrivateKeyPath));
    }

    [Theory]
    [InlineData("not a key")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA==")]
    [InlineData("")]
    public async Task An_invalid_stored_key_is_a_clear_error_and_is_not_replaced(string content)
    {
        Directory.CreateDirectory(_state);
        var path = Path.Combine(_state, WireGuardKeys.FileName);
        await File.WriteAllTextAsync(path, content);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => WireGuardKeys.LoadOrCreateAsync(_state));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("no WireGuard private key", error.Message, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllTextAsync(path));
    }

    public void Dispose()
    {
        if (Directory.Exists(_state))
        {
            Directory.Delete(_state, recursive: true);
        }
    }
}
