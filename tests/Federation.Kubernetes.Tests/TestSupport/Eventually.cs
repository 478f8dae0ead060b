namespace Federation.Kubernetes.Tests.TestSupport;

/// <summary>Waits for a condition with a deadline (never a bare sleep as synchronisation).</summary>
internal static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
        => TrueAsync(condition, () => what, timeout);

    /// <summary>As above, with a description computed at the deadline (to show the state that was reached).</summary>
    public static async Task TrueAsync(Func<bool> condition, Func<string> what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out waiting for: {what()}");
            }

            await Task.Delay(10);
        }
    }
}
