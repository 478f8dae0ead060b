using System.Globalization;
using System.Net;

namespace Federation.Lab.ApiServer.Hosting;

/// <summary>Parses the command line (<c>--flag value</c> or <c>--flag=value</c>) into <see cref="LabApiServerOptions"/>.</summary>
public static class LabApiServerFlags
{
    public const string Usage = """
        Usage: Federation.Lab.ApiServer --etcd-endpoints URL[,URL] --listen 127.0.0.1:PORT
                 --tls-cert-file FILE --tls-private-key-file FILE --client-ca-file FILE
                 [--service-cluster-ip-range 127.96.1.0/24] [--cluster-name NAME] [--etcd-prefix /registry]
                 [--etcd-cafile FILE] [--etcd-certfile FILE --etcd-keyfile FILE] [--watch-bookmark-interval SECONDS]
        """;

    /// <summary>The options, or the errors (each naming its flag).</summary>
    public static (LabApiServerOptions Options, IReadOnlyList<string> Errors) Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new LabApiServerOptions();
        var errors = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal))
            {
                errors.Add($"{arg}: unexpected argument (flags look like --name value)");
                continue;
            }

            string flag;
            string? value;
            var equals = arg.IndexOf('=');
            if (equals > 0)
            {
                flag = arg[..equals];
                value = arg[(equals + 1)..];
            }
            else
            {
                flag = arg;
                value = i + 1 < args.Count ? args[++i] : null;
            }

            if (value is null)
            {
                errors.Add($"{flag}: a value is required");
                continue;
            }

            switch (flag)
            {
                case "--etcd-endpoints":
                    foreach (var part in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        if (Uri.TryCreate(part, UriKind.Absolute, out var uri))
                        {
                            options.EtcdEndpoints.Add(uri);
                        }
                        else
                        {
                            errors.Add($"--etcd-endpoints: '{part}' is not a URL (e.g. http://127.0.0.1:2379)");
                        }
                    }

                    break;
                case "--etcd-prefix":
                    options.EtcdPrefix = value;
                    break;
                case "--etcd-cafile":
                    options.EtcdCaFile = value;
                    break;
                case "--etcd-certfile":
                    options.EtcdCertFile = value;
                    break;
                case "--etcd-keyfile":
                    options.EtcdKeyFile = value;
                    break;
                case "--listen":
                    if (IPEndPoint.TryParse(value, out var endpoint) && value.Contains(':', StringComparison.Ordinal))
                    {
                        options.Listen = endpoint;
                    }
                    else
                    {
                        errors.Add($"--listen: '{value}' is not ADDRESS:PORT (e.g. 127.0.0.1:6443)");
                    }

                    break;
                case "--tls-cert-file":
                    options.TlsCertFile = value;
                    break;
                case "--tls-private-key-file":
                    options.TlsPrivateKeyFile = value;
                    break;
                case "--client-ca-file":
                    options.ClientCaFile = value;
                    break;
                case "--service-cluster-ip-range":
                    options.ServiceClusterIpRange = value;
                    break;
                case "--cluster-name":
                    options.ClusterName = value;
                    break;
                case "--watch-bookmark-interval":
                    if (double.TryParse(value.TrimEnd('s'), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0)
                    {
                        options.BookmarkInterval = TimeSpan.FromSeconds(seconds);
                    }
                    else
                    {
                        errors.Add($"--watch-bookmark-interval: '{value}' is not a positive number of seconds");
                    }

                    break;
                default:
                    errors.Add($"{flag}: unknown flag");
                    break;
            }
        }

        if (errors.Count == 0)
        {
            errors.AddRange(options.Validate());
        }

        return (options, errors);
    }
}
