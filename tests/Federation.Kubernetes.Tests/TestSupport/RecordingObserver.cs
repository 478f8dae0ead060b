using Federation.Kubernetes.Informers;
using Federation.Kubernetes.Models;

namespace Federation.Kubernetes.Tests.TestSupport;

/// <summary>Records an informer's callbacks as lines like <c>add demo/a@1</c>, <c>update demo/c@11-&gt;12</c>, <c>delete demo/b@2</c>.</summary>
internal sealed class RecordingObserver<T> : IInformerObserver<T>
    where T : class, IKubernetesObject<T>
{
    private readonly Lock _gate = new();
    private readonly List<string> _events = [];

    public IReadOnlyList<string> Events
    {
        get
        {
            lock (_gate)
            {
                return [.. _events];
            }
        }
    }

    public void OnAdd(T item) => Record($"add {Key(item)}@{item.Metadata.ResourceVersion}");

    public void OnUpdate(T oldItem, T newItem) => Record($"update {Key(newItem)}@{oldItem.Metadata.ResourceVersion}->{newItem.Metadata.ResourceVersion}");

    public void OnDelete(T lastKnown) => Record($"delete {Key(lastKnown)}@{lastKnown.Metadata.ResourceVersion}");

    private static string Key(T item) => Informer<T>.KeyOf(item);

    private void Record(string line)
    {
        lock (_gate)
        {
            _events.Add(line);
        }
    }
}
