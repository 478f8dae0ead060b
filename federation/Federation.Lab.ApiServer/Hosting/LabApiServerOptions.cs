using System.Net;
using Federation.Lab.ApiServer.Storage;

namespace Federation.Lab.ApiServer.Hosting;

/// <summary>Settings of one lab API server; each maps to a command-line flag (named in the validation messages).</summary>
public sealed class LabApiServerOptions
{
    /// <summary><c>--etcd-endpoints</c>: comma-separated etcd client URLs.</summary>
    public IList<Uri> EtcdEndpoints { get; set; } = [];

    /// <summary><c>--etcd-cafile</c>, <c>--etcd-certfile</c>, <c>--etcd-keyfile</c>: TLS to etcd (optional).</summary>
    public string? EtcdCaFile { get; set; }

    public string? EtcdCertFile { get; set; }

    public string? EtcdKeyFile { get; set; }

    /// <summary><c>--etcd-prefix</c>: the key prefix of every object.</summary>
    public string EtcdPrefix { get; set; } = "/registry";

    /// <summary><c>--listen</c>: a loopback address and port (port 0 picks a free one).</summary>
    public IPEndPoint Listen { get; set; } = new(IPAddress.Loopback, 6443);

    /// <summary><c>--tls-cert-file</c>: the serving certificate (PEM).</summary>
    public string TlsCertFile { get; set; } = "";

    /// <summary><c>--tls-private-key-file</c>: its private key (PEM).</summary>
    public string TlsPrivateKeyFile { get; set; } = "";

    /// <summary><c>--client-ca-file</c>: clients must present a certificate signed by this CA; the user is its CN.</summary>
    public string ClientCaFile { get; set; } = "";

    /// <summary><c>--service-cluster-ip-range</c>: a CIDR inside 127.96.0.0/16.</summary>
    public string ServiceClusterIpRange { get; set; } = "127.96.1.0/24";

    /// <summary><c>--cluster-name</c>: the cluster this server belongs to (for logs and status).</summary>
    public string ClusterName { get; set; } = "lab";

    /// <summary><c>--watch-bookmark-interval</c>: how often watches that allow bookmarks get one.</summary>
    public TimeSpan BookmarkInterval { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Every problem, each naming its flag; empty when the options are usable.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (EtcdEndpoints.Count == 0)
        {
            errors.Add("--etcd-endpoints: required (e.g. http://127.0.0.1:2379)");
        }

        foreach (var endpoint in EtcdEndpoints.Where(e => !e.IsAbsoluteUri || (e.Scheme != Uri.UriSchemeHttp && e.Scheme != Uri.UriSchemeHttps)))
        {
            errors.Add($"--etcd-endpoints: '{endpoint}' is not an http:// or https:// URL");
        }

        if ((EtcdCertFile is null) != (EtcdKeyFile is null))
        {
            errors.Add("--etcd-certfile and --etcd-keyfile: give both or neither");
        }

        if (string.IsNullOrWhiteSpace(EtcdPrefix) || !EtcdPrefix.StartsWith('/'))
        {
            errors.Add($"--etcd-prefix: '{EtcdPrefix}' must start with '/' (default /registry)");
        }

        if (!IPAddress.IsLoopback(Listen.Address))
        {
            errors.Add($"--listen: {Listen} is not a loopback address; the lab serves on 127.0.0.0/8 only (e.g. 127.0.0.1:6443)");
        }

        RequireFile(errors, "--tls-cert-file", TlsCertFile);
        RequireFile(errors, "--tls-private-key-file", TlsPrivateKeyFile);
        RequireFile(errors, "--client-ca-file", ClientCaFile);
        RequireFile(errors, "--etcd-cafile", EtcdCaFile, optional: true);
        RequireFile(errors, "--etcd-certfile", EtcdCertFile, optional: true);
        RequireFile(errors, "--etcd-keyfile", EtcdKeyFile, optional: true);
        if (!ServiceIpRange.TryParse(ServiceClusterIpRange, out _, out var rangeError))
        {
            errors.Add($"--service-cluster-ip-range: {rangeError}");
        }

        if (string.IsNullOrWhiteSpace(ClusterName) || NameValidation.Check(NameRule.Dns1123Label, ClusterName) is not null)
        {
            errors.Add($"--cluster-name: '{ClusterName}' must be a DNS-1123 label (lower case letters, digits and '-')");
        }

        if (BookmarkInterval <= TimeSpan.Zero)
        {
            errors.Add("--watch-bookmark-interval: must be positive (e.g. 60s)");
        }

        return errors;
    }

    private static void RequireFile(List<string> errors, string flag, string? path, bool optional = false)
    {
        if (string.IsNullOrEmpty(path))
        {
            if (!optional)
            {
                errors.Add($"{flag}: required (a PEM file)");
            }

            return;
        }

        if (!File.Exists(path))
        {
            errors.Add($"{flag}: file '{path}' does not exist");
        }
    }
}
