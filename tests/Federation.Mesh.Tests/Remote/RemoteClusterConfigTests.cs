using System.Text.Json;
using Federation.Mesh.Remote;

namespace Federation.Mesh.Tests.Remote;

/// <summary>The config directory and options, without etcd: bad input is visible, never fatal.</summary>
public sealed class RemoteClusterConfigTests : RemoteClusterTestBase
{
    [Fact]
    public async Task Config_files_with_an_invalid_cluster_name_or_invalid_yaml_are_rejected_with_a_reason()
    {
        File.WriteAllText(Path.Combine(ConfigDirectory, "Bad_Name"), "endpoints:\n- http://127.0.0.1:1\n");
        File.WriteAllText(Path.Combine(ConfigDirectory, "default"), "endpoints:\n- http://127.0.0.1:1\n");
        File.WriteAllText(Path.Combine(ConfigDirectory, "broken"), "endpoints: [http://127.0.0.1:1\n");
        File.WriteAllText(Path.Combine(ConfigDirectory, "empty"), "");
        File.WriteAllText(Path.Combine(ConfigDirectory, "ftp"), "endpoints:\n- ftp://127.0.0.1:1\n");
        File.WriteAllText(Path.Combine(ConfigDirectory, "nocert"), "endpoints:\n- https://127.0.0.1:1\ntrusted-ca-file: missing-ca.crt\n");
        File.WriteAllText(Path.Combine(ConfigDirectory, "b.etcd-client.crt"), "not a config file");
        File.WriteAllText(Path.Combine(ConfigDirectory, LocalCluster), "this is our own cluster: ignored");

        var manager = await StartManagerAsync();
        var status = manager.GetStatus();

        Assert.Empty(status.Clusters);
        var reasons = status.Rejected.ToDictionary(r => r.FileName, r => r.Reason);
        Assert.Equal(["Bad_Name", "broken", "default", "empty", "ftp", "nocert"], reasons.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("not a valid cluster name", reasons["Bad_Name"], StringComparison.Ordinal);
        Assert.Contains("reserved", reasons["default"], StringComparison.Ordinal);
        Assert.StartsWith("invalid YAML", reasons["broken"], StringComparison.Ordinal);
        Assert.Contains("no endpoints", reasons["empty"], StringComparison.Ordinal);
        Assert.Contains("not an http:// or https:// URL", reasons["ftp"], StringComparison.Ordinal);
        Assert.Contains("trusted-ca-file", reasons["nocert"], StringComparison.Ordinal);

        var json = JsonSerializer.Serialize(status, RemoteClusterStatusJsonContext.Default.RemoteClustersStatus);
        Assert.Contains("\"fileName\":\"broken\"", json, StringComparison.Ordinal);

        // Fixing a file makes it a remote (unreachable here, so failing, but no longer rejected).
        File.WriteAllText(Path.Combine(ConfigDirectory, "broken"), "endpoints:\n- http://127.0.0.1:1\n");
        await Eventually.TrueAsync(() => manager.GetStatus().Find("broken") is { State: RemoteClusterState.Failing }, Timeout, "broken fixed and failing");
        Assert.DoesNotContain(manager.GetStatus().Rejected, r => r.FileName == "broken");
        Assert.Contains("unreachable", manager.GetStatus().Find("broken")!.LastFailureReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_options_are_reported_by_option_name()
    {
        var options = new RemoteClusterOptions
        {
            LocalClusterName = "Not Valid",
            LocalClusterId = 300,
            ConfigDirectory = "",
            StaleTtl = TimeSpan.FromSeconds(-1),
            BackoffMin = TimeSpan.FromSeconds(10),
            BackoffMax = TimeSpan.FromSeconds(1),
        };

        var error = Assert.Throws<ArgumentException>(() => new RemoteClusterManager(options, new RecordingRemoteObserver()));
        Assert.Contains("LocalClusterName:", error.Message, StringComparison.Ordinal);
        Assert.Contains("LocalClusterId:", error.Message, StringComparison.Ordinal);
        Assert.Contains("ConfigDirectory:", error.Message, StringComparison.Ordinal);
        Assert.Contains("StaleTtl:", error.Message, StringComparison.Ordinal);
        Assert.Contains("BackoffMax:", error.Message, StringComparison.Ordinal);
        Assert.Empty(Options().Validate());

        var result = new RemoteClusterOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("StaleTtl:", result.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_the_manager_requires_a_config_directory()
    {
        var options = Options(o => o.ConfigDirectory = "");
        Assert.Empty(options.Validate());
        var error = Assert.Throws<ArgumentException>(() => new RemoteClusterManager(options, Observer));
        Assert.Contains("ConfigDirectory:", error.Message, StringComparison.Ordinal);
        Assert.Contains("ConfigDirectory:", new RemoteClusterOptionsValidator().Validate(null, options).FailureMessage, StringComparison.Ordinal);
    }
}
