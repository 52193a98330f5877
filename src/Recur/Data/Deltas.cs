namespace Recur.Data;

/// <summary>
/// Delta (and delta-delta) features by the standard regression formula (HTK, Kaldi, Young et al. "The HTK Book"
/// §5.9): <c>d_t = Σ_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 Σ_{n=1..N} n²)</c>, with the frames beyond either end
/// replaced by the first or last frame. Delta-deltas are the deltas of the deltas. Appended after the static
/// features, a frame of width W becomes [c | d] (2W) or [c | d | dd] (3W).
/// </summary>
public static class Deltas
{
    /// <summary>The usual regression window, N = 2 frames each side.</summary>
    public const int DefaultWindow = 2;

    /// <summary>
    /// The frames (steps, width) with their deltas appended up to <paramref name="order"/> (0: a copy, 1: deltas,
    /// 2: deltas and delta-deltas): (steps, width * (order + 1)), row-major.
    /// </summary>
    public static float[] Append(ReadOnlySpan<float> frames, int steps, int width, int order, int window = DefaultWindow)
    {
        Check(frames.Length, steps, width, order, window);
        int outWidth = width * (order + 1);
        var output = new float[steps * outWidth];
        var levels = new float[order + 1][];
        levels[0] = frames.ToArray();
        for (int k = 1; k <= order; k++)
        {
            levels[k] = new float[steps * width];
            var source = levels[k - 1];
            for (int t = 0; t < steps; t++)
                Row(t, steps - 1, width, window, i => source.AsSpan(i * width, width), levels[k].AsSpan(t * width, width));
        }
        for (int t = 0; t < steps; t++)
            for (int k = 0; k <= order; k++)
                levels[k].AsSpan(t * width, width).CopyTo(output.AsSpan(t * outWidth + k * width, width));
        return output;
    }

    /// <summary>A row source for <see cref="Row"/>: the frame at a time index.</summary>
    internal delegate ReadOnlySpan<float> FrameAt(int t);

    /// <summary>
    /// The delta of frame <paramref name="t"/> from the frames <paramref name="at"/> gives, the indices clamped to
    /// [0, <paramref name="last"/>]. The offline and the streaming front end both call this, so they agree bit for bit.
    /// </summary>
    internal static void Row(int t, int last, int width, int window, FrameAt at, Span<float> destination)
    {
        float denominator = 0;
        for (int n = 1; n <= window; n++) denominator += n * n;
        denominator *= 2;
        destination.Clear();
        for (int n = 1; n <= window; n++)
        {
            var ahead = at(Math.Min(t + n, last));
            var behind = at(Math.Max(t - n, 0));
            for (int j = 0; j < width; j++) destination[j] += n * (ahead[j] - behind[j]);
        }
        for (int j = 0; j < width; j++) destination[j] /= denominator;
    }

    internal static void Check(int values, int steps, int width, int order, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        if (order is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(order), order, "delta order must be 0, 1 (deltas) or 2 (deltas and delta-deltas)");
        if (window < 1) throw new ArgumentOutOfRangeException(nameof(window), window, "delta window must be >= 1 frame");
        if (values != steps * width) throw new ArgumentException($"frames must hold steps * width values (expected {steps * width}, got {values})", "frames");
    }
}
