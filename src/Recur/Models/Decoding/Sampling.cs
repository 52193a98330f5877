using Recur.Tensors;

namespace Recur.Models.Decoding;

/// <summary>
/// Drawing from a model's scores: the next token from logits (temperature, top-k and top-p filtering), and a frame of
/// independent on/off units.
/// </summary>
public static class Sampling
{
    /// <summary>
    /// Draws an index from softmax(logits / temperature), restricted to the <paramref name="topK"/> most likely
    /// (0 = all) and then to the smallest set whose probability reaches <paramref name="topP"/> (1 = all).
    /// Temperature 0 means greedy (argmax).
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, float temperature, int topK, float topP, Rng rng)
    {
        if (logits.Length == 0) throw new ArgumentException("logits must not be empty", nameof(logits));
        if (!(temperature >= 0f) || !float.IsFinite(temperature)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be finite and >= 0");
        if (topK < 0) throw new ArgumentOutOfRangeException(nameof(topK), topK, "topK must be >= 0 (0 = no limit)");
        if (!(topP > 0f && topP <= 1f)) throw new ArgumentOutOfRangeException(nameof(topP), topP, "topP must be in (0, 1]");
        if (temperature == 0f) return TensorPrimitives.IndexOfMax(logits);

        int n = logits.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var scaled = new double[n];
        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, logits[i] / (double)temperature);
        for (int i = 0; i < n; i++) scaled[i] = Math.Exp(logits[i] / (double)temperature - max);
        // Most likely first; ties by index, so the draw is deterministic for a seed.
        Array.Sort(order, (a, b) => scaled[b] != scaled[a] ? scaled[b].CompareTo(scaled[a]) : a.CompareTo(b));
        int keep = topK > 0 ? Math.Min(topK, n) : n;
        double total = 0;
        for (int i = 0; i < keep; i++) total += scaled[order[i]];
        if (topP < 1f)
        {
            double cumulative = 0;
            for (int i = 0; i < keep; i++)
            {
                cumulative += scaled[order[i]] / total;
                if (cumulative >= topP) { keep = i + 1; break; }
            }
            total = 0;
            for (int i = 0; i < keep; i++) total += scaled[order[i]];
        }
        double u = rng.NextDouble() * total;
        for (int i = 0; i < keep; i++)
        {
            u -= scaled[order[i]];
            if (u < 0) return order[i];
        }
        return order[keep - 1];
    }

    /// <summary>
    /// Draws each unit of a frame from Bernoulli(sigmoid(logit / temperature)) into <paramref name="frame"/> (1 or 0),
    /// one <see cref="Rng.NextDouble"/> per unit in order; temperature 0 turns a unit on when its logit is positive,
    /// drawing nothing.
    /// </summary>
    public static void Bernoulli(ReadOnlySpan<float> logits, float temperature, Rng rng, Span<float> frame)
    {
        if (!(temperature >= 0f)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be >= 0");
        if (frame.Length != logits.Length)
            throw new ArgumentException($"frame.Length must equal logits.Length (expected {logits.Length}, got {frame.Length})", nameof(frame));
        for (int u = 0; u < logits.Length; u++)
        {
            double p = temperature == 0f ? (logits[u] > 0 ? 1 : 0) : 1 / (1 + Math.Exp(-logits[u] / temperature));
            frame[u] = temperature == 0f ? (float)p : rng.NextDouble() < p ? 1f : 0f;
        }
    }
}
