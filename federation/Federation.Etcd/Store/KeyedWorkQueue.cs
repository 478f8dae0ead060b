using System.Threading.Channels;

namespace Federation.Etcd.Store;

/// <summary>
/// A deduplicating queue of keys, as Kubernetes controllers use: a key is queued at most once, and a key
/// being processed is not handed to a second worker; if it changes meanwhile it is queued again when
/// the first worker is done.
/// </summary>
public sealed class KeyedWorkQueue
{
    private readonly Lock _gate = new();
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly HashSet<string> _processing = new(StringComparer.Ordinal);
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>();
    private int _pending;

    /// <summary>Keys queued or being processed.</summary>
    public int Count => Volatile.Read(ref _pending);

    public void Add(string key)
    {
        lock (_gate)
        {
            if (!_dirty.Add(key))
            {
                return;
            }

            if (!_processing.Contains(key))
            {
                _pending++;
                _queue.Writer.TryWrite(key);
            }
        }
    }

    public async ValueTask<string> TakeAsync(CancellationToken cancellationToken)
    {
        var key = await _queue.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        lock (_gate)
        {
            _dirty.Remove(key);
            _processing.Add(key);
        }

        return key;
    }

    /// <summary>Takes a queued key if one is waiting, without waiting.</summary>
    public bool TryTake([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out string? key)
    {
        if (!_queue.Reader.TryRead(out key))
        {
            return false;
        }

        lock (_gate)
        {
            _dirty.Remove(key);
            _processing.Add(key);
        }

        return true;
    }

    /// <summary>Marks a key done; returns true if the queue is now empty (nothing queued, nothing processing).</summary>
    public bool Done(string key)
    {
        lock (_gate)
        {
            _processing.Remove(key);
            if (_dirty.Contains(key))
            {
                _queue.Writer.TryWrite(key);
            }
            else
            {
                _pending--;
            }

            return _pending == 0;
        }
    }

    public void Complete() => _queue.Writer.TryComplete();
}
