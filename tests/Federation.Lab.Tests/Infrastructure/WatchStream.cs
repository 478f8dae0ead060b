using System.Text.Json.Nodes;

namespace Federation.Lab.Tests.Infrastructure;

/// <summary>A watch request's event stream, read one JSON line at a time with a deadline.</summary>
public sealed class WatchStream : IAsyncDisposable
{
    private readonly HttpResponseMessage _response;
    private readonly StreamReader _reader;
    private readonly CancellationTokenSource _cancel = new();

    private WatchStream(HttpResponseMessage response, StreamReader reader)
    {
        _response = response;
        _reader = reader;
    }

    public int StatusCode => (int)_response.StatusCode;

    public static async Task<WatchStream> OpenAsync(HttpClient http, string path, string? accept = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (accept is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept", accept);
        }

        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var stream = await response.Content.ReadAsStreamAsync();
        return new WatchStream(response, new StreamReader(stream));
    }

    /// <summary>The next event, or null when the server ended the stream.</summary>
    public async Task<JsonObject?> NextAsync(TimeSpan? timeout = null)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_cancel.Token);
        deadline.CancelAfter(timeout ?? TimeSpan.FromSeconds(10));
        string? line;
        try
        {
            line = await _reader.ReadLineAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException("no watch event within the deadline");
        }

        return line is null ? null : (JsonObject)JsonNode.Parse(line)!;
    }

    /// <summary>Skips events until one of <paramref name="type"/> arrives (BOOKMARKs are skipped unless asked for).</summary>
    public async Task<JsonObject> NextOfTypeAsync(string type, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            var next = await NextAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromMilliseconds(1)) ?? throw new InvalidOperationException($"the stream ended before a {type} event");
            if (next["type"]!.ToString() == type)
            {
                return next;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        _reader.Dispose();
        _response.Dispose();
        _cancel.Dispose();
    }
}
