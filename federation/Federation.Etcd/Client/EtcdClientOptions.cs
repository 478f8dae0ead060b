using System.Security.Cryptography.X509Certificates;

namespace Federation.Etcd;

/// <summary>How to reach an etcd cluster.</summary>
public sealed class EtcdClientOptions
{
    /// <summary>Client URLs, e.g. <c>https://127.0.0.1:2379</c>. Tried in order; a failing endpoint moves the client to the next.</summary>
    public IList<Uri> Endpoints { get; set; } = [];

    /// <summary>PEM file of the CA that signed the server certificate (https endpoints). Without it the system trust store is used.</summary>
    public string? CaFile { get; set; }

    /// <summary>PEM client certificate; with client-certificate auth the certificate's CN is the etcd user.</summary>
    public string? CertFile { get; set; }

    /// <summary>PEM private key of <see cref="CertFile"/>.</summary>
    public string? KeyFile { get; set; }

    /// <summary>A client certificate given directly (instead of <see cref="CertFile"/>/<see cref="KeyFile"/>).</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>A CA given directly (instead of <see cref="CaFile"/>).</summary>
    public X509Certificate2? TrustedCa { get; set; }

    /// <summary>User for password authentication (etcd's Authenticate call); the token is refreshed when it expires.</summary>
    public string? Username { get; set; }

    public string? Password { get; set; }

    /// <summary>Time to establish a connection to one endpoint.</summary>
    public TimeSpan DialTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Default deadline of a unary call (sent to the server as grpc-timeout).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Interval of HTTP/2 PINGs on idle connections, so a dead peer breaks watch and keep-alive streams quickly.</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Backoff between attempts to re-establish a broken watch or keep-alive stream: first delay.</summary>
    public TimeSpan ReconnectMinDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Backoff ceiling for stream re-establishment.</summary>
    public TimeSpan ReconnectMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    internal void Validate()
    {
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException("EtcdClientOptions.Endpoints: at least one endpoint is required (e.g. http://127.0.0.1:2379).");
        }

        foreach (var endpoint in Endpoints)
        {
            if (!endpoint.IsAbsoluteUri || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
            {
                throw new ArgumentException($"EtcdClientOptions.Endpoints: '{endpoint}' is not an http:// or https:// URL.");
            }
        }

        if ((CertFile is null) != (KeyFile is null))
        {
            throw new ArgumentException("EtcdClientOptions: CertFile and KeyFile must be given together.");
        }

        if ((Username is null) != (Password is null))
        {
            throw new ArgumentException("EtcdClientOptions: Username and Password must be given together.");
        }
    }
}
