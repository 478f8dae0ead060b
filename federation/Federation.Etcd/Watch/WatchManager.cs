using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Federation.Etcd.Protocol;
using Federation.Etcd.Transport;
using Microsoft.Extensions.Logging;

namespace Federation.Etcd.Watch;

/// <summary>
/// Multiplexes every watch of a client on one Watch stream. When the stream breaks it is opened again
/// (jittered exponential backoff) and each watch is re-created from the revision after the last one it
/// delivered, so callers see neither gaps nor duplicates. A watch whose start revision was compacted
/// away ends with <see cref="RevisionCompactedException"/>.
/// </summary>
internal sealed partial class WatchManager : IAsyncDisposable
{
    private const string Method = "/etcdserverpb.Watch/Watch";

    private readonly EtcdClient _client;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly List<Registration> _registrations = [];
    private readonly Queue<Registration> _awaitingCreated = new();
    private readonly Dictionary<long, Registration> _byServerId = [];
    private readonly CancellationTokenSource _disposed = new();
    private DuplexCall<WatchResponse>? _call;
    private Task? _loop;

    public WatchManager(EtcdClient client, ILogger logger)
    {
        _client = client;
        _logger = logger;
    }

    /// <summary>Number of times the shared stream was (re-)opened; for tests and status.</summary>
    public int StreamsOpened { get; private set; }

    public async IAsyncEnumerable<WatchResponse> WatchAsync(WatchCreateRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var registration = new Registration(request.Clone());
        Register(registration);
        try
        {
            await foreach (var response in registration.Output.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return response;
            }
        }
        finally
        {
            Unregister(registration);
        }
    }

    /// <summary>Asks the server for a progress notification on the shared stream (delivered to every watch).</summary>
    public bool RequestProgress()
    {
        lock (_gate)
        {
            return _call?.TryWrite(new WatchRequest { ProgressRequest = new WatchProgressRequest() }) ?? false;
        }
    }

    private void Register(Registration registration)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            _registrations.Add(registration);
            if (_call is { } call)
            {
                _awaitingCreated.Enqueue(registration);
                call.TryWrite(registration.CreateRequest());
            }

            _loop ??= Task.Run(RunAsync);
        }
    }

    private void Unregister(Registration registration)
    {
        lock (_gate)
        {
            registration.Removed = true;
            _registrations.Remove(registration);
            if (registration.ServerId is { } id)
            {
                _byServerId.Remove(id);
                _call?.TryWrite(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = id } });
            }
        }

        registration.Output.Writer.TryComplete();
    }

    private async Task RunAsync()
    {
        var token = _disposed.Token;
        var delay = _client.Options.ReconnectMinDelay;
        while (!token.IsCancellationRequested)
        {
            lock (_gate)
            {
                if (_registrations.Count == 0)
                {
                    // Idle: no stream while nobody watches.
                    _loop = null;
                    return;
                }
            }

            var call = _client.Channel.CreateDuplex(Method, WatchResponse.Parser);
            var deliveredAny = false;
            try
            {
                lock (_gate)
                {
                    _awaitingCreated.Clear();
                    _byServerId.Clear();
                    foreach (var registration in _registrations)
                    {
                        registration.ServerId = null;
                        _awaitingCreated.Enqueue(registration);
                        call.TryWrite(registration.CreateRequest());
                    }

                    _call = call;
                }

                await call.StartAsync(_client.Options.DialTimeout, token).ConfigureAwait(false);
                StreamsOpened++;
                Log.StreamOpened(_logger, call.Endpoint, _registrations.Count);
                while (await call.ReadAsync(token).ConfigureAwait(false) is { } response)
                {
                    Dispatch(response);
                    if (!deliveredAny)
                    {
                        deliveredAny = true;
                        delay = _client.Options.ReconnectMinDelay;
                    }
                }

                Log.StreamClosedByServer(_logger, call.Endpoint);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested)
            {
                break;
            }
            catch (EtcdUnauthenticatedException ex)
            {
                Log.StreamFailed(_logger, call.Endpoint, ex.Message);
                await _client.TryReauthenticateAsync(token).ConfigureAwait(false);
            }
            catch (EtcdException ex)
            {
                Log.StreamFailed(_logger, call.Endpoint, ex.Message);
            }
            catch (Exception ex) when (!token.IsCancellationRequested)
            {
                Log.StreamFailed(_logger, call.Endpoint, $"{ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                lock (_gate)
                {
                    _call = null;
                }

                await call.DisposeAsync().ConfigureAwait(false);
            }

            try
            {
                await Task.Delay(Jitter(delay), _client.TimeProvider, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }

            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _client.Options.ReconnectMaxDelay.Ticks));
        }
    }

    private void Dispatch(WatchResponse response)
    {
        Registration? target;
        lock (_gate)
        {
            if (response.Created)
            {
                if (!_awaitingCreated.TryDequeue(out target))
                {
                    return;
                }

                if (!response.Canceled)
                {
                    target.ServerId = response.WatchId;
                    _byServerId[response.WatchId] = target;
                    if (target.NextRevision == 0)
                    {
                        // "From now": everything after the revision the server had at creation.
                        target.NextRevision = response.Header.Revision + 1;
                    }

                    if (target.Removed)
                    {
                        _byServerId.Remove(response.WatchId);
                        _call?.TryWrite(new WatchRequest { CancelRequest = new WatchCancelRequest { WatchId = response.WatchId } });
                        return;
                    }
                }
            }
            else if (response.WatchId == -1)
            {
                // A progress reply to RequestProgress: broadcast. It does not move resume points, since
                // older servers send it even while some watchers are still catching up.
                foreach (var registration in _registrations)
                {
                    registration.Output.Writer.TryWrite(response);
                }

                return;
            }
            else if (!_byServerId.TryGetValue(response.WatchId, out target))
            {
                return;
            }

            if (response.Canceled)
            {
                if (target.ServerId is { } id)
                {
                    _byServerId.Remove(id);
                }

                target.Removed = true;
                _registrations.Remove(target);
                target.Output.Writer.TryComplete(CancellationError(response));
                return;
            }

            if (response.Events.Count > 0)
            {
                target.NextRevision = response.Events[^1].Kv.ModRevision + 1;
            }
            else if (!response.Created && response.Header is { Revision: > 0 } header)
            {
                target.NextRevision = Math.Max(target.NextRevision, header.Revision + 1);
            }
        }

        target.Output.Writer.TryWrite(response);
    }

    private static EtcdException CancellationError(WatchResponse response)
    {
        if (response.CompactRevision > 0)
        {
            return new RevisionCompactedException(response.CompactRevision, $"etcdserver: mvcc: required revision has been compacted (compact revision {response.CompactRevision})");
        }

        var reason = string.IsNullOrEmpty(response.CancelReason) ? "watch canceled by the server" : response.CancelReason;
        if (reason.Contains("compacted", StringComparison.Ordinal))
        {
            return new RevisionCompactedException(0, reason);
        }

        if (reason.Contains("permission denied", StringComparison.Ordinal))
        {
            return new EtcdPermissionDeniedException(reason);
        }

        if (reason.Contains("auth token", StringComparison.Ordinal))
        {
            return new EtcdUnauthenticatedException(reason);
        }

        return new EtcdException(GrpcStatusCode.Cancelled, reason);
    }

    private static TimeSpan Jitter(TimeSpan delay)
        => TimeSpan.FromTicks((long)(delay.Ticks * (0.5 + Random.Shared.NextDouble())));

    public async ValueTask DisposeAsync()
    {
        Task? loop;
        lock (_gate)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            loop = _loop;
            foreach (var registration in _registrations)
            {
                registration.Output.Writer.TryComplete(new ObjectDisposedException(nameof(EtcdClient)));
            }

            _registrations.Clear();
        }

        if (loop is not null)
        {
            await loop.ConfigureAwait(false);
        }

        _disposed.Dispose();
    }

    private sealed class Registration(WatchCreateRequest template)
    {
        public Channel<WatchResponse> Output { get; } = Channel.CreateUnbounded<WatchResponse>(new UnboundedChannelOptions { SingleReader = true });

        /// <summary>Where to resume after a broken stream; 0 = from "now" (not yet known).</summary>
        public long NextRevision { get; set; } = template.StartRevision;

        public long? ServerId { get; set; }

        public bool Removed { get; set; }

        public WatchRequest CreateRequest()
        {
            var create = template.Clone();
            create.StartRevision = NextRevision;
            create.WatchId = 0;
            return new WatchRequest { CreateRequest = create };
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Watch stream opened to {Endpoint} with {Watches} watches")]
        public static partial void StreamOpened(ILogger logger, Uri? endpoint, int watches);

        [LoggerMessage(2, LogLevel.Information, "Watch stream to {Endpoint} closed by the server; re-opening")]
        public static partial void StreamClosedByServer(ILogger logger, Uri? endpoint);

        [LoggerMessage(3, LogLevel.Warning, "Watch stream to {Endpoint} failed: {Reason}; re-opening with backoff")]
        public static partial void StreamFailed(ILogger logger, Uri? endpoint, string reason);
    }
}
