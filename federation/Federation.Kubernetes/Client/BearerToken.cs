namespace Federation.Kubernetes.Client;

/// <summary>A bearer token, fixed or read from a file that is re-read every minute (projected service-account tokens rotate).</summary>
internal sealed class BearerToken(string? token, string? tokenFile, TimeProvider time)
{
    private static readonly TimeSpan RefreshInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _gate = new();
    private string? _cached = token;
    private DateTimeOffset _readAt = DateTimeOffset.MinValue;

    public string Get()
    {
        if (tokenFile is null)
        {
            return _cached ?? string.Empty;
        }

        lock (_gate)
        {
            var now = time.GetUtcNow();
            if (_cached is null || now - _readAt >= RefreshInterval)
            {
                try
                {
                    _cached = File.ReadAllText(tokenFile).Trim();
                    _readAt = now;
                }
                catch (Exception ex) when ((ex is IOException or UnauthorizedAccessException) && _cached is not null)
                {
                    // Keep using the last token; the file may be mid-rotation. Try again on the next request.
                }
            }

            return _cached;
        }
    }
}
