using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Federation.Kubernetes.Config;
using Federation.Kubernetes.Models;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;

namespace Federation.Kubernetes.Client;

/// <summary>
/// The REST client: JSON over <see cref="HttpClient"/>, TLS and credentials from a <see cref="KubernetesClientConfiguration"/>,
/// retries of throttled and failed requests through a Polly pipeline that honours <c>Retry-After</c>.
/// </summary>
public sealed partial class KubernetesClient : IKubernetesClient, IDisposable
{
    private static readonly ResiliencePropertyKey<bool> IdempotentKey = new("federation.kubernetes.idempotent");
    private static readonly ResiliencePropertyKey<string> OperationKey = new("federation.kubernetes.operation");
    private static readonly MediaTypeHeaderValue JsonMediaType = new("application/json");

    private readonly HttpClient _http;
    private readonly KubernetesClientConfiguration _configuration;
    private readonly ResiliencePipeline<HttpResponseMessage> _pipeline;
    private readonly BearerToken? _token;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _serverPrefix;

    private KubernetesClient(HttpClient http, KubernetesClientConfiguration configuration, TimeProvider time, ILogger logger)
    {
        _http = http;
        _configuration = configuration;
        _time = time;
        _logger = logger;
        _serverPrefix = configuration.Server.AbsoluteUri.TrimEnd('/');
        _token = configuration.Token is not null || configuration.TokenFile is not null
            ? new BearerToken(configuration.Token, configuration.TokenFile, time)
            : null;
        _pipeline = BuildPipeline(configuration.Retry);
    }

    /// <summary>The configuration this client was made from.</summary>
    public KubernetesClientConfiguration Configuration => _configuration;

    /// <summary>Creates a client with its own connection pool; dispose it to close the connections.</summary>
    public static KubernetesClient Create(KubernetesClientConfiguration configuration, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var handler = KubernetesHttpHandler.Create(configuration);
        var http = new HttpClient(handler, disposeHandler: true)
        {
            // Per-request limits are applied by the client itself; a watch runs as long as the server keeps it.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        var logger = (ILogger?)loggerFactory?.CreateLogger<KubernetesClient>() ?? NullLogger.Instance;
        return new KubernetesClient(http, configuration, timeProvider ?? TimeProvider.System, logger);
    }

    public void Dispose() => _http.Dispose();

    public async Task<T> GetAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var path = ObjectPath<T>(@namespace, name);
        using var response = await SendAsync(HttpMethod.Get, path, null, null, idempotent: true, streaming: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, T.JsonTypeInfo, cancellationToken).ConfigureAwait(false);
    }

    public async Task<KubernetesList<T>> ListAsync<T>(string? @namespace, ListOptions? options = null, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        var path = RequestPaths.ForResource(T.Resource, @namespace, null) + RequestPaths.Query(options);
        using var response = await SendAsync(HttpMethod.Get, path, null, null, idempotent: true, streaming: false, cancellationToken).ConfigureAwait(false);
        return options?.SkipUndecodable == true
            ? await ReadListItemByItemAsync<T>(response, cancellationToken).ConfigureAwait(false)
            : await ReadAsync(response, T.ListJsonTypeInfo, cancellationToken).ConfigureAwait(false);
    }

    public async Task<T> CreateAsync<T>(T item, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        ArgumentNullException.ThrowIfNull(item);
        var path = RequestPaths.ForResource(T.Resource, RequireNamespace<T>(item.Metadata.Namespace), null);
        var body = JsonSerializer.SerializeToUtf8Bytes(item, T.JsonTypeInfo);
        using var response = await SendAsync(HttpMethod.Post, path, body, JsonMediaType, idempotent: false, streaming: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, T.JsonTypeInfo, cancellationToken).ConfigureAwait(false);
    }

    public async Task<T> UpdateAsync<T>(T item, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        ArgumentNullException.ThrowIfNull(item);
        var name = item.Metadata.Name;
        ArgumentException.ThrowIfNullOrEmpty(name, "item.Metadata.Name");
        var path = ObjectPath<T>(item.Metadata.Namespace, name);
        var body = JsonSerializer.SerializeToUtf8Bytes(item, T.JsonTypeInfo);
        using var response = await SendAsync(HttpMethod.Put, path, body, JsonMediaType, idempotent: true, streaming: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, T.JsonTypeInfo, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteAsync<T>(string? @namespace, string name, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        var path = ObjectPath<T>(@namespace, name);
        using var response = await SendAsync(HttpMethod.Delete, path, null, null, idempotent: true, streaming: false, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public async Task<T> PatchAsync<T>(string? @namespace, string name, PatchType patchType, string patch, CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentException.ThrowIfNullOrEmpty(patch);
        var path = ObjectPath<T>(@namespace, name);
        var contentType = new MediaTypeHeaderValue(patchType switch
        {
            PatchType.Merge => "application/merge-patch+json",
            PatchType.StrategicMerge => "application/strategic-merge-patch+json",
            PatchType.Json => "application/json-patch+json",
            _ => throw new ArgumentOutOfRangeException(nameof(patchType), patchType, null),
        });

        // A merge patch gives the same result when applied twice; a JSON patch (e.g. "add" to a list) may not.
        var idempotent = patchType != PatchType.Json;
        using var response = await SendAsync(HttpMethod.Patch, path, Encoding.UTF8.GetBytes(patch), contentType, idempotent, streaming: false, cancellationToken).ConfigureAwait(false);
        return await ReadAsync(response, T.JsonTypeInfo, cancellationToken).ConfigureAwait(false);
    }

    public async IAsyncEnumerable<WatchEvent<T>> WatchAsync<T>(string? @namespace, WatchOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where T : class, IKubernetesObject<T>
    {
        var path = RequestPaths.ForResource(T.Resource, @namespace, null) + RequestPaths.Query(options);
        using var response = await SendAsync(HttpMethod.Get, path, null, null, idempotent: true, streaming: true, cancellationToken).ConfigureAwait(false);
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);

        // A silent half-open connection must not hang a watch forever: give up a little after the server should have ended it.
        using var deadline = options?.TimeoutSeconds is { } seconds
            ? new CancellationTokenSource(TimeSpan.FromSeconds(seconds) + _configuration.RequestTimeout, _time)
            : new CancellationTokenSource();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, deadline.Token);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var events = WatchStreamReader.ReadAsync(stream, T.JsonTypeInfo, options?.SkipUndecodable ?? false, linked.Token).ConfigureAwait(false);
            var enumerator = events.GetAsyncEnumerator();
            try
            {
                while (true)
                {
                    WatchEvent<T> ev;
                    try
                    {
                        if (!await enumerator.MoveNextAsync())
                        {
                            yield break;
                        }

                        ev = enumerator.Current;
                    }
                    catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        Log.WatchDeadline(_logger, path);
                        yield break;
                    }

                    if (ev.Type == WatchEventType.Error)
                    {
                        throw KubernetesApiException.FromStatus(ev.Status ?? new Status { Code = 500, Reason = "InternalError", Message = "watch ERROR event without a status" });
                    }

                    yield return ev;
                }
            }
            finally
            {
                await enumerator.DisposeAsync();
            }
        }
    }

    private static string ObjectPath<T>(string? @namespace, string name)
        where T : class, IKubernetesObject<T>
        => RequestPaths.ForResource(T.Resource, RequireNamespace<T>(@namespace), name);

    private static string? RequireNamespace<T>(string? @namespace)
        where T : class, IKubernetesObject<T>
    {
        if (T.Resource.Namespaced && string.IsNullOrEmpty(@namespace))
        {
            throw new ArgumentException($"{T.Resource.Kind} is namespaced: a namespace is required", nameof(@namespace));
        }

        return T.Resource.Namespaced ? @namespace : null;
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method, string path, byte[]? body, MediaTypeHeaderValue? contentType, bool idempotent, bool streaming, CancellationToken cancellationToken)
    {
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(IdempotentKey, idempotent);
        context.Properties.Set(OperationKey, $"{method} {path}");
        try
        {
            var request = new Request(method, path, body, contentType, streaming);
            return await _pipeline.ExecuteAsync(static (ctx, state) => state.Client.SendOnceAsync(state.Request, ctx.CancellationToken), context, (Client: this, Request: request)).ConfigureAwait(false);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private async ValueTask<HttpResponseMessage> SendOnceAsync(Request request, CancellationToken cancellationToken)
    {
        // Appended, not resolved: a server URL with a path (behind a proxy) keeps its prefix.
        using var message = new HttpRequestMessage(request.Method, new Uri(_serverPrefix + request.Path, UriKind.Absolute));
        message.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (request.Body is not null)
        {
            message.Content = new ByteArrayContent(request.Body);
            message.Content.Headers.ContentType = request.ContentType;
        }

        if (_token is not null)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _token.Get());
        }

        // The time limit covers one attempt (and, for a watch, only until the headers arrive).
        using var attempt = new CancellationTokenSource(_configuration.RequestTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, attempt.Token);
        try
        {
            var completion = request.Streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead;
            return await _http.SendAsync(message, completion, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (attempt.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{request.Method} {request.Path} got no answer within {_configuration.RequestTimeout.TotalSeconds:0.#}s", ex);
        }
    }

    private ResiliencePipeline<HttpResponseMessage> BuildPipeline(KubernetesRetryOptions options)
    {
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _time };
        if (options.MaxRetryAttempts <= 0)
        {
            return builder.Build();
        }

        var maxDelay = options.MaxDelay;
        return builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
        {
            MaxRetryAttempts = options.MaxRetryAttempts,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.BaseDelay,
            MaxDelay = maxDelay,
            ShouldHandle = args => ValueTask.FromResult(ShouldRetry(args.Outcome, args.Context.Properties.GetValue(IdempotentKey, false))),
            DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome.Result, maxDelay)),
            OnRetry = args =>
            {
                var operation = args.Context.Properties.GetValue(OperationKey, "?");
                var reason = args.Outcome.Exception?.Message ?? ((int?)args.Outcome.Result?.StatusCode)?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
                Log.Retrying(_logger, operation, reason, args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1);
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    /// <summary>Which failures are worth another attempt.</summary>
    internal static bool ShouldRetry(Outcome<HttpResponseMessage> outcome, bool idempotent)
    {
        if (outcome.Exception is { } exception)
        {
            return exception switch
            {
                // Not connected: the request never reached the server, so any verb may be sent again.
                HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError } => true,
                // Sent but no (complete) answer: only a verb that means the same thing twice may be repeated.
                HttpRequestException or TimeoutException or IOException => idempotent,
                _ => false,
            };
        }

        var status = (int)(outcome.Result?.StatusCode ?? 0);
        return status switch
        {
            // Throttled or unavailable: the server did not process the request.
            429 or 503 => true,
            500 or 502 or 504 => idempotent,
            _ => false,
        };
    }

    /// <summary>The wait the server asked for (Retry-After seconds or date), capped; null to use the backoff.</summary>
    private TimeSpan? RetryAfter(HttpResponseMessage? response, TimeSpan maxDelay)
    {
        var header = response?.Headers.RetryAfter;
        TimeSpan? wait = header switch
        {
            { Delta: { } delta } => delta,
            { Date: { } date } => date - _time.GetUtcNow(),
            _ => null,
        };

        if (wait is not { } value)
        {
            return null;
        }

        return value < TimeSpan.Zero ? TimeSpan.Zero : value > maxDelay ? maxDelay : value;
    }

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                return await JsonSerializer.DeserializeAsync(stream, typeInfo, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"{response.RequestMessage?.RequestUri}: the server returned null");
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{response.RequestMessage?.RequestUri}: the server's answer is not a valid {typeof(T).Name}: {ex.Message}", ex);
            }
        }
    }

    /// <summary>A list whose items are decoded one by one: a bad item goes to <see cref="KubernetesList{T}.Undecodable"/>, the page itself must be valid.</summary>
    private static async Task<KubernetesList<T>> ReadListItemByItemAsync<T>(HttpResponseMessage response, CancellationToken cancellationToken)
        where T : class, IKubernetesObject<T>
    {
        await EnsureSuccessAsync(response, cancellationToken).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                using var document = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                var root = document.RootElement;
                if (root.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"{response.RequestMessage?.RequestUri}: the server's answer is not a {T.Resource.ListKind} object");
                }

                var items = new List<T>();
                var undecodable = new List<UndecodableObject>();
                if (root.TryGetProperty("items", out var itemsElement) && itemsElement.ValueKind == JsonValueKind.Array)
                {
                    foreach (var element in itemsElement.EnumerateArray())
                    {
                        if (ItemDecoder.Decode(element, T.JsonTypeInfo, out var bad) is { } item)
                        {
                            items.Add(item);
                        }
                        else
                        {
                            undecodable.Add(bad!);
                        }
                    }
                }

                var metadata = root.TryGetProperty("metadata", out var metadataElement) && metadataElement.ValueKind == JsonValueKind.Object
                    ? metadataElement.Deserialize(KubernetesJsonContext.Default.ListMeta) ?? new ListMeta()
                    : new ListMeta();
                return new KubernetesList<T>
                {
                    ApiVersion = root.TryGetProperty("apiVersion", out var apiVersion) && apiVersion.ValueKind == JsonValueKind.String ? apiVersion.GetString() : T.Resource.ApiVersion,
                    Kind = root.TryGetProperty("kind", out var kind) && kind.ValueKind == JsonValueKind.String ? kind.GetString() : T.Resource.ListKind,
                    Metadata = metadata,
                    Items = items,
                    Undecodable = undecodable,
                };
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{response.RequestMessage?.RequestUri}: the server's answer is not a valid {T.Resource.ListKind}: {ex.Message}", ex);
            }
        }
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        throw KubernetesApiException.FromStatus(DecodeStatus(response.StatusCode, response.ReasonPhrase, text));
    }

    /// <summary>The server's Status when the body is one, else a Status made from the HTTP response.</summary>
    internal static Status DecodeStatus(HttpStatusCode code, string? reasonPhrase, string body)
    {
        Status? status = null;
        if (body.TrimStart().StartsWith('{'))
        {
            try
            {
                status = JsonSerializer.Deserialize(body, KubernetesJsonContext.Default.Status);
            }
            catch (JsonException)
            {
                // Not a Status: fall through and describe the response instead.
            }
        }

        if (status is { Kind: "Status" })
        {
            return status.Code is null ? status with { Code = (int)code } : status;
        }

        var message = body.Length > 512 ? body[..512] + "…" : body;
        return new Status
        {
            Outcome = "Failure",
            Code = (int)code,
            Reason = ReasonFor(code),
            Message = string.IsNullOrWhiteSpace(message) ? reasonPhrase ?? code.ToString() : message.Trim(),
        };
    }

    private static string ReasonFor(HttpStatusCode code) => (int)code switch
    {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "Unknown",
    };

    private sealed record Request(HttpMethod Method, string Path, byte[]? Body, MediaTypeHeaderValue? ContentType, bool Streaming);
}
