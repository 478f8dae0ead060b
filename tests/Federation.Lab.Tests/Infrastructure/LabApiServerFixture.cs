using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;
using Federation.Etcd;
using Federation.Etcd.Tests.Infrastructure;
using Federation.Lab.ApiServer.Hosting;
using Federation.Lab.ApiServer.Pki;
using Federation.Lab.ApiServer.Storage;
using Microsoft.Extensions.Logging;

namespace Federation.Lab.Tests.Infrastructure;

/// <summary>
/// A real etcd, the lab certificates and an in-process lab API server on a free loopback port, shared by
/// the tests of <see cref="LabCollection"/>. Tests isolate themselves with their own namespaces.
/// </summary>
public sealed class LabApiServerFixture : IAsyncLifetime
{
    private EtcdServer? _etcd;
    private LabApiServerHost? _host;
    private LabPkiFiles? _pki;
    private IEtcdClient? _etcdClient;
    private int _namespaceCounter;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "federation-lab-tests", Guid.NewGuid().ToString("N")[..12]);

    public EtcdServer Etcd => _etcd ?? throw new InvalidOperationException("not started");

    public LabApiServerHost Host => _host ?? throw new InvalidOperationException("not started");

    internal LabPkiFiles Pki => _pki ?? throw new InvalidOperationException("not started");

    public IEtcdClient EtcdClient => _etcdClient ?? throw new InvalidOperationException("not started");

    public ObjectStore Store => Host.Store;

    public HttpClient Http { get; private set; } = null!;

    public const string ServiceRange = "127.96.1.0/28";

    public async Task InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        _etcd = await EtcdServer.StartAsync();
        _etcdClient = Federation.Etcd.EtcdClient.Create(new EtcdClientOptions { Endpoints = [.. _etcd.ClientEndpoints] });
        _pki = LabPkiFiles.Create(Path.Combine(Directory, "pki"));
        _host = await LabApiServerHost.StartAsync(Options(), l => l.SetMinimumLevel(LogLevel.Warning));
        Http = CreateClient(_pki.Admin);
    }

    internal LabApiServerOptions Options() => new()
    {
        EtcdEndpoints = [.. Etcd.ClientEndpoints],
        Listen = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 0),
        TlsCertFile = Pki.ServerCertFile,
        TlsPrivateKeyFile = Pki.ServerKeyFile,
        ClientCaFile = Pki.CaFile,
        ServiceClusterIpRange = ServiceRange,
        ClusterName = "test",
        BookmarkInterval = TimeSpan.FromMilliseconds(200),
    };

    /// <summary>A fresh namespace, created through the API.</summary>
    public async Task<string> NewNamespaceAsync(string stem = "t")
    {
        var name = $"{stem}-{Interlocked.Increment(ref _namespaceCounter)}-{Guid.NewGuid().ToString("N")[..6]}";
        var response = await Http.PostJsonAsync("api/v1/namespaces", new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = name } });
        Assert.Equal(201, (int)response.Status);
        return name;
    }

    /// <summary>An HttpClient presenting <paramref name="client"/> (null: no client certificate) and trusting the lab CA.</summary>
    internal HttpClient CreateClient(PemCertificate? client, Uri? baseUri = null)
    {
        var ca = Pki.Ca.Certificate;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions = new SslClientAuthenticationOptions
            {
                ClientCertificates = client is null ? null : [client.ToCertificate()],
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is null)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(new X509Certificate2(certificate));
                },
            },
        };
        return new HttpClient(handler) { BaseAddress = baseUri ?? Host.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }

        if (_etcdClient is not null)
        {
            await _etcdClient.DisposeAsync();
        }

        if (_etcd is not null)
        {
            await _etcd.DisposeAsync();
        }

        _pki?.Dispose();
        if (System.IO.Directory.Exists(Directory))
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }

        var parent = Path.GetDirectoryName(Directory)!;
        if (System.IO.Directory.Exists(parent) && !System.IO.Directory.EnumerateFileSystemEntries(parent).Any())
        {
            try
            {
                System.IO.Directory.Delete(parent);
            }
            catch (IOException)
            {
                // Another test run started using it meanwhile.
            }
        }
    }
}

/// <summary>Test classes marked <c>[Collection(LabCollection.Name)]</c> share one <see cref="LabApiServerFixture"/>.</summary>
[CollectionDefinition(Name)]
public sealed class LabCollection : ICollectionFixture<LabApiServerFixture>
{
    public const string Name = "lab-apiserver";
}

/// <summary>A response: HTTP status and the JSON body (null when the body is not JSON).</summary>
public sealed record ApiResponse(System.Net.HttpStatusCode Status, JsonNode? Body, string Text)
{
    public JsonObject Object => Body as JsonObject ?? throw new InvalidOperationException($"not a JSON object: {Text}");

    public int Code => (int)Status;
}

/// <summary>JSON helpers over HttpClient.</summary>
public static class HttpJson
{
    public static Task<ApiResponse> GetJsonAsync(this HttpClient http, string path, string? accept = null)
        => http.SendRawAsync(HttpMethod.Get, path, null, null, accept);

    public static Task<ApiResponse> PostJsonAsync(this HttpClient http, string path, JsonNode body)
        => http.SendRawAsync(HttpMethod.Post, path, body.ToJsonString(), "application/json");

    public static Task<ApiResponse> PutJsonAsync(this HttpClient http, string path, JsonNode body)
        => http.SendRawAsync(HttpMethod.Put, path, body.ToJsonString(), "application/json");

    public static Task<ApiResponse> PatchJsonAsync(this HttpClient http, string path, JsonNode body, string contentType)
        => http.SendRawAsync(HttpMethod.Patch, path, body.ToJsonString(), contentType);

    public static Task<ApiResponse> DeleteJsonAsync(this HttpClient http, string path, JsonNode? body = null)
        => http.SendRawAsync(HttpMethod.Delete, path, body?.ToJsonString(), "application/json");

    public static async Task<ApiResponse> SendRawAsync(this HttpClient http, HttpMethod method, string path, string? body, string? contentType, string? accept = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType ?? "application/json");
        }

        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        JsonNode? json = null;
        try
        {
            json = text.Length > 0 ? JsonNode.Parse(text) : null;
        }
        catch (System.Text.Json.JsonException)
        {
            json = null;
        }

        return new ApiResponse(response.StatusCode, json, text);
    }

    public static JsonObject ConfigMap(string name, string? @namespace = null, IReadOnlyDictionary<string, string>? labels = null, string data = "v")
    {
        var metadata = new JsonObject { ["name"] = name };
        if (@namespace is not null)
        {
            metadata["namespace"] = @namespace;
        }

        if (labels is not null)
        {
            metadata["labels"] = new JsonObject([.. labels.Select(l => KeyValuePair.Create(l.Key, (JsonNode?)l.Value))]);
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = metadata, ["data"] = new JsonObject { ["k"] = data } };
    }
}
