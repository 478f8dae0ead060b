using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;

namespace Federation.Etcd.Transport;

/// <summary>
/// gRPC over HTTP/2 on <see cref="SocketsHttpHandler"/>: length-prefixed protobuf frames in the body,
/// status in the trailers. Plaintext endpoints use HTTP/2 with prior knowledge (h2c).
/// </summary>
internal sealed class GrpcChannel : IDisposable
{
    private static readonly MediaTypeHeaderValue GrpcContentType = new("application/grpc");

    private readonly Uri[] _endpoints;
    private readonly HttpMessageInvoker _invoker;
    private readonly TimeSpan _defaultTimeout;
    private int _current;

    public GrpcChannel(EtcdClientOptions options)
    {
        options.Validate();
        _endpoints = [.. options.Endpoints];
        _defaultTimeout = options.RequestTimeout;
        _invoker = new HttpMessageInvoker(CreateHandler(options), disposeHandler: true);
    }

    /// <summary>The auth token sent as the "token" metadata with every call, once authenticated.</summary>
    public string? Token { get; set; }

    /// <summary>The endpoint calls currently go to.</summary>
    public Uri CurrentEndpoint => _endpoints[Volatile.Read(ref _current) % _endpoints.Length];

    public IReadOnlyList<Uri> Endpoints => _endpoints;

    /// <summary>Moves to the next endpoint after <paramref name="failed"/> broke (no-op if another caller already moved).</summary>
    public void MarkFailed(Uri failed)
    {
        var index = Volatile.Read(ref _current);
        if (_endpoints[index % _endpoints.Length] == failed)
        {
            Interlocked.CompareExchange(ref _current, index + 1, index);
        }
    }

    public async Task<TResponse> UnaryAsync<TResponse>(
        string method, IMessage request, MessageParser<TResponse> parser, TimeSpan? timeout, CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        var deadline = timeout ?? _defaultTimeout;
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(deadline);
        var payload = Frame(request);

        Exception? lastError = null;
        for (var attempt = 0; attempt < _endpoints.Length; attempt++)
        {
            var endpoint = CurrentEndpoint;
            using var message = CreateRequest(endpoint, method, new ByteArrayContent(payload), deadline);
            try
            {
                using var response = await _invoker.SendAsync(message, timeoutCts.Token).ConfigureAwait(false);
                ThrowIfHeadersCarryError(response);
                var stream = await response.Content.ReadAsStreamAsync(timeoutCts.Token).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    var result = await ReadMessageAsync(stream, parser, timeoutCts.Token).ConfigureAwait(false);
                    // Drain to the end of the body so the trailers are available.
                    while (await ReadMessageAsync(stream, parser, timeoutCts.Token).ConfigureAwait(false) is not null)
                    {
                    }

                    ThrowIfStatusError(response);
                    return result ?? throw new EtcdException(GrpcStatusCode.Internal, $"{method}: the server sent no response message");
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested
                && (ex is OperationCanceledException || (ex is HttpRequestException or IOException && timeoutCts.IsCancellationRequested)))
            {
                // The deadline fired; depending on where the request was, the handler reports that as a
                // cancellation or as a failed request or stream.
                throw new EtcdDeadlineExceededException($"{method} did not complete within {deadline.TotalSeconds:0.###}s (endpoint {endpoint})");
            }
            catch (HttpRequestException ex) when (IsConnectFailure(ex))
            {
                // Nothing reached the server: safe to try the next endpoint whatever the call is.
                lastError = ex;
                MarkFailed(endpoint);
            }
            catch (EtcdUnavailableException ex)
            {
                lastError = ex;
                MarkFailed(endpoint);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException)
            {
                throw new EtcdUnavailableException($"{method} to {endpoint} failed: {ex.Message}", ex);
            }
        }

        throw lastError as EtcdUnavailableException
            ?? new EtcdUnavailableException($"{method}: no etcd endpoint reachable ({string.Join(", ", _endpoints.Select(e => e.ToString()))}): {lastError?.Message}", lastError);
    }

    /// <summary>Opens a bidirectional stream. Queue the first request before <see cref="DuplexCall{TResponse}.StartAsync"/>: etcd answers with headers only once it has something to say.</summary>
    public DuplexCall<TResponse> CreateDuplex<TResponse>(string method, MessageParser<TResponse> parser)
        where TResponse : class, IMessage<TResponse>
        => new(this, method, parser);

    internal HttpRequestMessage CreateRequest(Uri endpoint, string method, HttpContent content, TimeSpan? deadline)
    {
        content.Headers.ContentType = GrpcContentType;
        var message = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, method))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = content,
        };
        message.Headers.TryAddWithoutValidation("te", "trailers");
        if (deadline is { } d)
        {
            var millis = (long)Math.Ceiling(d.TotalMilliseconds);
            message.Headers.TryAddWithoutValidation("grpc-timeout", millis.ToString(CultureInfo.InvariantCulture) + "m");
        }

        if (Token is { } token)
        {
            message.Headers.TryAddWithoutValidation("token", token);
        }

        return message;
    }

    internal Task<HttpResponseMessage> SendAsync(HttpRequestMessage message, CancellationToken cancellationToken)
        => _invoker.SendAsync(message, cancellationToken);

    internal static byte[] Frame(IMessage message)
    {
        var size = message.CalculateSize();
        var buffer = new byte[5 + size];
        BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(1), (uint)size);
        message.WriteTo(buffer.AsSpan(5));
        return buffer;
    }

    /// <summary>Reads one length-prefixed message; null at a clean end of the body.</summary>
    internal static async ValueTask<T?> ReadMessageAsync<T>(Stream stream, MessageParser<T> parser, CancellationToken cancellationToken)
        where T : IMessage<T>
    {
        var header = ArrayPool<byte>.Shared.Rent(5);
        try
        {
            var read = await stream.ReadAtLeastAsync(header.AsMemory(0, 5), 5, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                return default;
            }

            if (read < 5)
            {
                throw new EtcdUnavailableException("the gRPC stream ended inside a message header");
            }

            if (header[0] != 0)
            {
                throw new EtcdException(GrpcStatusCode.Internal, "the server sent a compressed gRPC message; compression was not negotiated");
            }

            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
            var body = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            try
            {
                await stream.ReadExactlyAsync(body.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                return parser.ParseFrom(body, 0, length);
            }
            catch (EndOfStreamException ex)
            {
                throw new EtcdUnavailableException("the gRPC stream ended inside a message", ex);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(body);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
        }
    }

    /// <summary>A non-200 response or a trailers-only error (status in the headers).</summary>
    internal static void ThrowIfHeadersCarryError(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            var status = response.StatusCode switch
            {
                HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable or HttpStatusCode.GatewayTimeout or HttpStatusCode.TooManyRequests => GrpcStatusCode.Unavailable,
                HttpStatusCode.Unauthorized => GrpcStatusCode.Unauthenticated,
                HttpStatusCode.Forbidden => GrpcStatusCode.PermissionDenied,
                HttpStatusCode.NotFound => GrpcStatusCode.Unimplemented,
                _ => GrpcStatusCode.Internal,
            };
            throw EtcdException.FromStatus(status, $"HTTP {(int)response.StatusCode} from {response.RequestMessage?.RequestUri}");
        }

        if (TryGetStatus(response.Headers, out var code, out var detail) && code != GrpcStatusCode.Ok)
        {
            throw EtcdException.FromStatus(code, detail);
        }
    }

    /// <summary>After the body: the status from the trailers (or headers, for trailers-only responses).</summary>
    internal static void ThrowIfStatusError(HttpResponseMessage response)
    {
        if (TryGetStatus(response.TrailingHeaders, out var code, out var detail) || TryGetStatus(response.Headers, out code, out detail))
        {
            if (code != GrpcStatusCode.Ok)
            {
                throw EtcdException.FromStatus(code, detail);
            }

            return;
        }

        throw new EtcdUnavailableException("the gRPC response ended without a status (connection lost?)");
    }

    private static bool TryGetStatus(HttpHeaders headers, out GrpcStatusCode code, out string detail)
    {
        code = GrpcStatusCode.Unknown;
        detail = string.Empty;
        if (!headers.TryGetValues("grpc-status", out var values))
        {
            return false;
        }

        var text = values.FirstOrDefault();
        code = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? (GrpcStatusCode)number : GrpcStatusCode.Unknown;
        if (headers.TryGetValues("grpc-message", out var messages))
        {
            detail = Uri.UnescapeDataString(messages.FirstOrDefault() ?? string.Empty);
        }

        return true;
    }

    internal static bool IsConnectFailure(HttpRequestException ex)
        => ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError
            || ex.InnerException is System.Net.Sockets.SocketException;

    private static SocketsHttpHandler CreateHandler(EtcdClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = options.DialTimeout,
            EnableMultipleHttp2Connections = true,
            KeepAlivePingDelay = options.KeepAlivePingDelay,
            KeepAlivePingTimeout = options.KeepAlivePingTimeout,
            // Only while a call is open (watches and keep-alive streams are): etcd's gRPC server counts a ping on a
            // connection without streams as a strike and closes it with ENHANCE_YOUR_CALM after a few.
            KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
        };

        var clientCertificate = options.ClientCertificate;
        if (clientCertificate is null && options.CertFile is not null && options.KeyFile is not null)
        {
            clientCertificate = LoadPemCertificate(options.CertFile, options.KeyFile);
        }

        var trustedCa = options.TrustedCa;
        if (trustedCa is null && options.CaFile is not null)
        {
            trustedCa = X509CertificateLoader.LoadCertificateFromFile(options.CaFile);
        }

        var ssl = new SslClientAuthenticationOptions
        {
            ApplicationProtocols = [SslApplicationProtocol.Http2],
        };
        if (clientCertificate is not null)
        {
            ssl.ClientCertificates = [clientCertificate];
            // Hand the certificate over whatever the server's acceptable-issuer list says.
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }

        if (trustedCa is not null)
        {
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) => ValidateAgainst(trustedCa, certificate, errors);
        }

        handler.SslOptions = ssl;
        return handler;
    }

    internal static X509Certificate2 LoadPemCertificate(string certFile, string keyFile)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        // On Linux an ephemeral key works for SslStream, but exporting to PKCS#12 keeps it usable everywhere.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    private static bool ValidateAgainst(X509Certificate2 trustedCa, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            return false;
        }

        if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(trustedCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    public void Dispose() => _invoker.Dispose();
}
