using System.Collections.Immutable;
using System.Security.Cryptography;
using Federation.Etcd;
using Federation.Etcd.ClusterMesh;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Federation.Mesh.Remote;

/// <summary>How to reach one remote cluster, read from its file in the config directory.</summary>
internal sealed record RemoteClusterConfig(
    string Name,
    ImmutableArray<Uri> Endpoints,
    string? CaFile,
    string? CertFile,
    string? KeyFile,
    string Fingerprint)
{
    public EtcdClientOptions ToClientOptions(RemoteClusterOptions options) => new()
    {
        Endpoints = [.. Endpoints],
        CaFile = CaFile,
        CertFile = CertFile,
        KeyFile = KeyFile,
        DialTimeout = options.DialTimeout,
        RequestTimeout = options.RequestTimeout,
        // A dead remote must break the watch streams well within a heartbeat check.
        // (HTTP/2 pings cannot be more frequent than one a second.)
        KeepAlivePingDelay = Clamp(options.HealthCheckPeriod * 2, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)),
        KeepAlivePingTimeout = Clamp(options.DialTimeout, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)),
        ReconnectMinDelay = Min(options.BackoffMin, TimeSpan.FromMilliseconds(100)),
        ReconnectMaxDelay = Min(options.BackoffMax, TimeSpan.FromSeconds(5)),
    };

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Clamp(TimeSpan value, TimeSpan min, TimeSpan max) => value < min ? min : value > max ? max : value;
}

/// <summary>One read of the config directory: the usable remote configs and the rejected files.</summary>
internal sealed record RemoteClusterConfigScan(
    ImmutableDictionary<string, RemoteClusterConfig> Clusters,
    ImmutableArray<RejectedRemoteConfig> Rejected);

/// <summary>
/// Reads Cilium's clustermesh config directory: one file per remote cluster, named after it, holding
/// YAML <c>endpoints</c>, <c>trusted-ca-file</c>, <c>cert-file</c>, <c>key-file</c> (relative paths are
/// resolved against the directory). Names with a '.' are auxiliary files (certificates) and our own
/// cluster's name is skipped. A file that cannot be used is rejected with a reason, never thrown.
/// </summary>
internal static class RemoteClusterConfigDirectory
{
    private static readonly IDeserializer Yaml = new DeserializerBuilder().IgnoreUnmatchedProperties().Build();

    public static RemoteClusterConfigScan Scan(string directory, string localClusterName)
    {
        var clusters = ImmutableDictionary.CreateBuilder<string, RemoteClusterConfig>(StringComparer.Ordinal);
        var rejected = ImmutableArray.CreateBuilder<RejectedRemoteConfig>();
        if (!Directory.Exists(directory))
        {
            rejected.Add(new RejectedRemoteConfig(directory, "the config directory does not exist"));
            return new(clusters.ToImmutable(), rejected.ToImmutable());
        }

        foreach (var path in Directory.EnumerateFiles(directory).Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(path);
            if (name.Contains('.', StringComparison.Ordinal) || name == localClusterName)
            {
                continue;
            }

            var result = Read(directory, path, name);
            if (result.Config is { } config)
            {
                clusters[name] = config;
            }
            else if (result.Error is { } error)
            {
                rejected.Add(new RejectedRemoteConfig(name, error));
            }
        }

        return new(clusters.ToImmutable(), rejected.ToImmutable());
    }

    internal static (RemoteClusterConfig? Config, string? Error) Read(string directory, string path, string name)
    {
        var validName = ClusterIdentity.ValidateClusterName(name);
        if (!validName.Ok)
        {
            return (null, $"the file name is not a valid cluster name: {validName.Error}");
        }

        byte[] content;
        try
        {
            content = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Removed between listing and reading, or unreadable: the next scan decides.
            return (null, ex is FileNotFoundException ? null : $"cannot read the file: {ex.Message}");
        }

        ConfigFile? file;
        try
        {
            file = Yaml.Deserialize<ConfigFile?>(System.Text.Encoding.UTF8.GetString(content));
        }
        catch (YamlException ex)
        {
            return (null, $"invalid YAML: {ex.Message}");
        }

        if (file is null || file.Endpoints is not { Count: > 0 })
        {
            return (null, "no endpoints: the file must list 'endpoints: [https://host:port, ...]'");
        }

        var endpoints = ImmutableArray.CreateBuilder<Uri>();
        foreach (var text in file.Endpoints)
        {
            if (!Uri.TryCreate(text?.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                return (null, $"endpoint '{text}' is not an http:// or https:// URL");
            }

            endpoints.Add(uri);
        }

        if ((file.CertFile is null) != (file.KeyFile is null))
        {
            return (null, "cert-file and key-file must be given together");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(content);
        var resolved = new string?[3];
        string?[] referenced = [file.TrustedCaFile, file.CertFile, file.KeyFile];
        string[] fields = ["trusted-ca-file", "cert-file", "key-file"];
        for (var i = 0; i < referenced.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(referenced[i]))
            {
                continue;
            }

            var full = Path.GetFullPath(referenced[i]!.Trim(), directory);
            try
            {
                // The certificates' content is part of the fingerprint: a rotated certificate means a reconnect.
                hash.AppendData(File.ReadAllBytes(full));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return (null, $"{fields[i]} '{full}' cannot be read: {ex.Message}");
            }

            resolved[i] = full;
        }

        return (new RemoteClusterConfig(name, endpoints.ToImmutable(), resolved[0], resolved[1], resolved[2], Convert.ToHexString(hash.GetHashAndReset())), null);
    }

    private sealed class ConfigFile
    {
        [YamlMember(Alias = "endpoints")]
        public List<string?>? Endpoints { get; set; }

        [YamlMember(Alias = "trusted-ca-file")]
        public string? TrustedCaFile { get; set; }

        [YamlMember(Alias = "cert-file")]
        public string? CertFile { get; set; }

        [YamlMember(Alias = "key-file")]
        public string? KeyFile { get; set; }
    }
}
