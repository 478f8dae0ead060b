using System.Collections.Frozen;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Federation.Lab.DemoApp.Cli;

namespace Federation.Lab.DemoApp.Request;

/// <summary>The flags of <c>request</c>.</summary>
internal sealed record RequestOptions(Uri Url, int Count, TimeSpan Interval, TimeSpan Timeout, IPAddress? Bind = null)
{
    private static readonly FrozenSet<string> Known = FrozenSet.Create(StringComparer.Ordinal, "--url", "--count", "--interval", "--timeout", "--bind");

    public static RequestOptions Parse(IReadOnlyList<string> args)
    {
        var flags = Flags.Parse(args, Known);
        // The given flags are checked before the missing ones, so the message names the flag that is wrong.
        var count = flags.Int("--count", 1, 1, 1_000_000);
        var interval = TimeSpan.FromMilliseconds(flags.Int("--interval", 0, 0, 3_600_000));
        var timeout = TimeSpan.FromMilliseconds(flags.Int("--timeout", 2000, 1, 3_600_000));
        IPAddress? bind = null;
        if (flags.Optional("--bind") is { } bindText && !IPAddress.TryParse(bindText, out bind))
        {
            throw new FlagException($"--bind: '{bindText}' is not an IP address");
        }

        var url = flags.HttpUrl("--url") ?? throw new FlagException("--url: required");
        return new RequestOptions(url, count, interval, timeout, bind);
    }
}

/// <summary><c>request</c>: N GETs, each on a new connection, one JSON line each on stdout.</summary>
internal static class RequestCommand
{
    public static async Task<int> RunAsync(RequestOptions options, TextWriter output, CancellationToken cancellationToken)
    {
        using var client = Connections.NewClient(options.Timeout, options.Bind);
        for (var seq = 1; seq <= options.Count && !cancellationToken.IsCancellationRequested; seq++)
        {
            if (seq > 1 && options.Interval > TimeSpan.Zero)
            {
                await Task.Delay(options.Interval, cancellationToken).ConfigureAwait(false);
            }

            var result = await SendAsync(client, options, seq, cancellationToken).ConfigureAwait(false);
            await output.WriteLineAsync(JsonSerializer.Serialize(result, DemoJsonContext.Default.RequestResult)).ConfigureAwait(false);
            await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }

        return 0;
    }

    private static async Task<RequestResult> SendAsync(HttpClient client, RequestOptions options, int seq, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Timeout);
        var started = Stopwatch.GetTimestamp();
        int? status = null;
        try
        {
            using var request = Connections.Get(options.Url);
            using var response = await client.SendAsync(request, timeout.Token).ConfigureAwait(false);
            status = (int)response.StatusCode;
            var bytes = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            var body = TryParse(bytes);
            string? error = null;
            if (!response.IsSuccessStatusCode)
            {
                error = body is { ValueKind: JsonValueKind.Object } o && o.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String
                    ? $"HTTP {status}: {e.GetString()}"
                    : $"HTTP {status}";
            }
            else if (body is null)
            {
                error = "the answer is not JSON";
            }

            return new RequestResult(seq, status, Elapsed(started), body, error);
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return new RequestResult(seq, status, Elapsed(started), null, Connections.Describe(ex, options.Timeout));
        }
    }

    private static double Elapsed(long started) => Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 3);

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
}
