using System.Text.Json;

namespace Federation.Lab.DemoApp.Serve;

/// <summary><c>serve</c>: one service of the demo chain on Kestrel.</summary>
internal static partial class ServeCommand
{
    public static readonly TimeSpan UpstreamTimeout = TimeSpan.FromSeconds(2);

    public static async Task<int> RunAsync(ServeOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(options.Listen));
        builder.Logging.ClearProviders().AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);

        await using var app = builder.Build();
        using var upstream = Connections.NewClient(UpstreamTimeout, options.Listen.Address);
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("lab-demo-app");
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/", (HttpContext context) => AnswerAsync(options, upstream, context, logger));

        await app.StartAsync().ConfigureAwait(false);
        LogStarted(logger, options.Role, options.Version, options.Listen.ToString(), options.Cluster, options.Pod, options.Upstream?.ToString() ?? "none");
        await app.WaitForShutdownAsync().ConfigureAwait(false);
        return 0;
    }

    private static async Task AnswerAsync(ServeOptions options, HttpClient client, HttpContext context, ILogger logger)
    {
        var connection = context.Connection;
        var peer = connection.RemoteIpAddress is { } ip ? $"{ip}:{connection.RemotePort}" : null;
        JsonElement? upstream = null;
        string? error = null;
        if (options.Upstream is { } url)
        {
            (upstream, error) = await CallUpstreamAsync(client, url, context.RequestAborted).ConfigureAwait(false);
        }

        LogRequest(logger, peer ?? "?", error ?? "ok");
        var answer = new ServiceAnswer(options.Role, options.Version, options.Cluster, options.Pod, peer, upstream, error);
        context.Response.StatusCode = error is null ? StatusCodes.Status200OK : StatusCodes.Status502BadGateway;
        await context.Response.WriteAsJsonAsync(answer, DemoJsonContext.Default.ServiceAnswer, cancellationToken: context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<(JsonElement? Body, string? Error)> CallUpstreamAsync(HttpClient client, Uri url, CancellationToken aborted)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        timeout.CancelAfter(UpstreamTimeout);
        try
        {
            using var request = Connections.Get(url);
            using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            JsonElement? body = TryParse(bytes);
            if (response.IsSuccessStatusCode)
            {
                return body is null ? (null, $"upstream {url}: the answer is not JSON") : (body, null);
            }

            var reason = body is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String
                ? $": {e.GetString()}"
                : "";
            return (body, $"upstream {url} answered {(int)response.StatusCode}{reason}");
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !aborted.IsCancellationRequested))
        {
            return (null, $"upstream {url}: {Connections.Describe(ex, UpstreamTimeout)}");
        }
    }

    private static JsonElement? TryParse(byte[] bytes)
    {
        try
        {
            return bytes.Length == 0 ? null : JsonSerializer.Deserialize(bytes, DemoJsonContext.Default.JsonElement);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [LoggerMessage(1, LogLevel.Information, "{Role} {Version} listening on {Address} (cluster {Cluster}, pod {Pod}), upstream {Upstream}")]
    private static partial void LogStarted(ILogger logger, string role, string version, string address, string cluster, string pod, string upstream);

    [LoggerMessage(2, LogLevel.Debug, "GET / from {Peer}: {Outcome}")]
    private static partial void LogRequest(ILogger logger, string peer, string outcome);
}
