namespace Recur.Cli.Serve;

/// <summary>
/// Bounds the work in the server: at most --max-concurrent model requests run at once, at most --max-queue wait for a
/// slot, and the rest are refused at once (429 with Retry-After), so memory never grows without bound.
/// </summary>
internal sealed class Admission(int maxConcurrent, int maxQueue, ServeMetrics metrics)
{
    private readonly SemaphoreSlim slots = new(maxConcurrent, maxConcurrent);
    private int waiting;

    /// <summary>Waits for a slot (honouring <paramref name="token"/>); dispose the result to free it.</summary>
    public async Task<IDisposable> EnterAsync(CancellationToken token)
    {
        if (slots.Wait(0)) return new Slot(slots);
        int w = Interlocked.Increment(ref waiting);
        try
        {
            if (w > maxQueue)
                throw new RequestError(429, "too many requests", $"the server is full: {maxConcurrent} requests running and {maxQueue} waiting (--max-concurrent, --max-queue); retry later", retryAfterSeconds: 1);
            metrics.QueueDepth.WithLabels("*", "admission").Set(w);
            await slots.WaitAsync(token).ConfigureAwait(false);
            return new Slot(slots);
        }
        finally
        {
            metrics.QueueDepth.WithLabels("*", "admission").Set(Math.Max(0, Interlocked.Decrement(ref waiting)));
        }
    }

    private sealed class Slot(SemaphoreSlim slots) : IDisposable
    {
        private int released;
        public void Dispose() { if (Interlocked.Exchange(ref released, 1) == 0) slots.Release(); }
    }
}
