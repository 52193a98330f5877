namespace Recur.Kernels;

/// <summary>
/// How much memory the engine's buffer pool holds in use: the activations, saved states and scratch of forward and
/// backward passes, and the results they hand out until disposed. For measuring peak memory (the benchmark's
/// <c>train_peak_mb</c>); process-wide, so concurrent passes count together.
/// </summary>
public static class PooledMemory
{
    /// <summary>Bytes of pooled buffers rented and not yet returned.</summary>
    public static long InUseBytes => PinnedPool.InUseBytes;

    /// <summary>The most bytes of pooled buffers in use at once since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakInUseBytes => PinnedPool.PeakInUseBytes;

    /// <summary>Starts a new high-water mark at the current use.</summary>
    public static void ResetPeak() => PinnedPool.ResetPeak();
}
