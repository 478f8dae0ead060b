using System.Net;
using System.Threading.Channels;
using Google.Protobuf;

namespace Federation.Etcd.Transport;

/// <summary>
/// One bidirectional gRPC stream: requests are queued and written as they come, responses are read
/// one at a time. Breaks surface as <see cref="EtcdException"/>s; re-establishing is the owner's job.
/// </summary>
internal sealed class DuplexCall<TResponse> : IAsyncDisposable
    where TResponse : class, IMessage<TResponse>
{
    private readonly GrpcChannel _channel;
    private readonly string _method;
    private readonly MessageParser<TResponse> _parser;
    private readonly Channel<IMessage> _outgoing = Channel.CreateUnbounded<IMessage>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _lifetime = new();
    private HttpResponseMessage? _response;
    private Stream? _responseStream;

    public DuplexCall(GrpcChannel channel, string method, MessageParser<TResponse> parser)
    {
        _channel = channel;
        _method = method;
        _parser = parser;
    }

    /// <summary>The endpoint the stream was opened to.</summary>
    public Uri? Endpoint { get; private set; }

    /// <summary>Queues a request; false once the stream is closed.</summary>
    public bool TryWrite(IMessage request) => _outgoing.Writer.TryWrite(request);

    /// <summary>Half-closes the stream: no more requests.</summary>
    public void CompleteWrites() => _outgoing.Writer.TryComplete();

    /// <summary>Sends the request headers and waits for the response headers.</summary>
    public async Task StartAsync(TimeSpan connectTimeout, CancellationToken cancellationToken)
    {
        var endpoint = _channel.CurrentEndpoint;
        Endpoint = endpoint;
        var message = _channel.CreateRequest(endpoint, _method, new StreamingContent(_outgoing.Reader), deadline: null);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout);
        // The response must outlive the timeout token: that token only bounds the wait for headers.
        using var registration = timeout.Token.Register(static state => ((CancellationTokenSource)state!).Cancel(), _lifetime);
        try
        {
            _response = await _channel.SendAsync(message, _lifetime.Token).ConfigureAwait(false);
            GrpcChannel.ThrowIfHeadersCarryError(_response);
            _responseStream = await _response.Content.ReadAsStreamAsync(_lifetime.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            _channel.MarkFailed(endpoint);
            throw new EtcdUnavailableException($"{_method}: no response headers from {endpoint} within {connectTimeout.TotalSeconds:0.###}s");
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException)
        {
            _channel.MarkFailed(endpoint);
            throw new EtcdUnavailableException($"{_method}: cannot open a stream to {endpoint}: {ex.Message}", ex);
        }
        catch (EtcdUnavailableException)
        {
            _channel.MarkFailed(endpoint);
            throw;
        }
    }

    /// <summary>The next response; null when the server closed the stream with status OK.</summary>
    public async ValueTask<TResponse?> ReadAsync(CancellationToken cancellationToken)
    {
        var stream = _responseStream ?? throw new InvalidOperationException("StartAsync first.");
        try
        {
            var message = await GrpcChannel.ReadMessageAsync(stream, _parser, cancellationToken).ConfigureAwait(false);
            if (message is null)
            {
                GrpcChannel.ThrowIfStatusError(_response!);
            }

            return message;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or System.Net.Sockets.SocketException && !cancellationToken.IsCancellationRequested)
        {
            if (Endpoint is { } endpoint)
            {
                _channel.MarkFailed(endpoint);
            }

            throw new EtcdUnavailableException($"{_method}: the stream to {Endpoint} broke: {ex.Message}", ex);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _outgoing.Writer.TryComplete();
        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (_responseStream is not null)
        {
            await _responseStream.DisposeAsync().ConfigureAwait(false);
        }

        _response?.Dispose();
        _lifetime.Dispose();
    }

    /// <summary>A request body that stays open and writes each queued message as one gRPC frame.</summary>
    private sealed class StreamingContent(ChannelReader<IMessage> requests) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context)
            => SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await foreach (var request in requests.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                await stream.WriteAsync(GrpcChannel.Frame(request), cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = -1;
            return false;
        }
    }
}
