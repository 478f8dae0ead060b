using System.Collections.Concurrent;
using System.Text;
using Federation.Kubernetes.Client;
using Federation.Kubernetes.Config;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Federation.Kubernetes.Tests.TestSupport;

/// <summary>One request the scripted server received.</summary>
internal sealed record RecordedRequest(int Index, string Method, string Path, string Query, string? ContentType, string? Authorization, string Body)
{
    public string PathAndQuery => Path + Query;

    public bool IsWatch => Query.Contains("watch=true", StringComparison.Ordinal);

    public string? QueryValue(string name)
    {
        foreach (var part in Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && part[..eq] == name)
            {
                return Uri.UnescapeDataString(part[(eq + 1)..]);
            }
        }

        return null;
    }
}

/// <summary>
/// A Kestrel server on 127.0.0.1 that answers every request with a script the test supplies: the faults and sequences
/// (429 with Retry-After, 410 mid-watch, dropped streams) that a real API server does not produce on demand.
/// </summary>
internal sealed class ScriptedApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private int _count;

    private ScriptedApiServer(WebApplication app, Func<RecordedRequest, HttpContext, Task> script)
    {
        _app = app;
        _app.Run(async context =>
        {
            var body = await new StreamReader(context.Request.Body, Encoding.UTF8).ReadToEndAsync(context.RequestAborted);
            var request = new RecordedRequest(
                Interlocked.Increment(ref _count) - 1,
                context.Request.Method,
                context.Request.Path.Value ?? string.Empty,
                context.Request.QueryString.Value ?? string.Empty,
                context.Request.ContentType,
                context.Request.Headers.Authorization.ToString() is { Length: > 0 } auth ? auth : null,
                body);
            _requests.Enqueue(request);
            try
            {
                await script(request, context);
            }
            catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
            {
                // The client went away (a cancelled watch): nothing to answer.
            }
        });
    }

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests];

    public static async Task<ScriptedApiServer> StartAsync(Func<RecordedRequest, HttpContext, Task> script, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(2));
        configure?.Invoke(builder);
        var server = new ScriptedApiServer(builder.Build(), script);
        await server._app.StartAsync();
        var address = server._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.BaseAddress = new Uri(address);
        return server;
    }

    /// <summary>A client of this server with fast retries (tests should not wait seconds for a backoff).</summary>
    public KubernetesClient CreateClient(KubernetesRetryOptions? retry = null, TimeProvider? timeProvider = null)
        => KubernetesClient.Create(
            new KubernetesClientConfiguration
            {
                Server = BaseAddress,
                Retry = retry ?? new KubernetesRetryOptions { MaxRetryAttempts = 3, BaseDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(100) },
                RequestTimeout = TimeSpan.FromSeconds(10),
            },
            timeProvider: timeProvider);

    public static async Task WriteJsonAsync(HttpContext context, int status, string json)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(json, context.RequestAborted);
    }

    public static Task WriteStatusAsync(HttpContext context, int code, string reason, string message)
        => WriteJsonAsync(context, code, $$"""{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"{{message}}","reason":"{{reason}}","code":{{code}}}""");

    /// <summary>Sends watch events, one JSON line each; then ends the response, or keeps it open until the client leaves.</summary>
    public static async Task WriteWatchAsync(HttpContext context, IEnumerable<string> lines, bool keepOpen)
    {
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        foreach (var line in lines)
        {
            await context.Response.WriteAsync(line + "\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }

        if (keepOpen)
        {
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
