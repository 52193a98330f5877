namespace Recur.Data;

/// <summary>
/// SpecAugment-style masking (Park et al. 2019, "SpecAugment: a simple data augmentation method for automatic speech
/// recognition", §2), a training-only augmentation. Each of <see cref="FrequencyMasks"/> masks sets f consecutive
/// channels [f0, f0 + f) to zero, f uniform in [0, <see cref="FrequencyWidth"/>] and f0 uniform in [0, ν - f] (every place the mask fits); each of
/// <see cref="TimeMasks"/> masks sets t consecutive frames [t0, t0 + t) to zero, t uniform in [0, <see cref="TimeWidth"/>]
/// capped at <see cref="MaxTimeFraction"/> of the utterance, t0 uniform in [0, τ - t]. Zero is the mean of
/// standardised features, the value the paper masks with. Frames that carry deltas are masked in the same channels of
/// every block (static, delta, delta-delta).
/// </summary>
public sealed record SpecAugment
{
    /// <summary>Frequency masks per utterance (the paper's m_F).</summary>
    public int FrequencyMasks { get; init; }
    /// <summary>Widest frequency mask in channels (the paper's F).</summary>
    public int FrequencyWidth { get; init; }
    /// <summary>Time masks per utterance (the paper's m_T).</summary>
    public int TimeMasks { get; init; }
    /// <summary>Longest time mask in frames (the paper's T).</summary>
    public int TimeWidth { get; init; }
    /// <summary>Upper bound on one time mask as a fraction of the utterance's frames (the paper's p; 1: no bound).</summary>
    public double MaxTimeFraction { get; init; } = 1.0;

    /// <summary>True when the settings mask nothing.</summary>
    public bool IsNone => (FrequencyMasks == 0 || FrequencyWidth == 0) && (TimeMasks == 0 || TimeWidth == 0);

    /// <summary>Throws on a negative count or width, or a fraction outside (0, 1].</summary>
    public void Validate()
    {
        if (FrequencyMasks < 0) throw new ArgumentOutOfRangeException(nameof(FrequencyMasks), FrequencyMasks, "must be >= 0");
        if (FrequencyWidth < 0) throw new ArgumentOutOfRangeException(nameof(FrequencyWidth), FrequencyWidth, "must be >= 0");
        if (TimeMasks < 0) throw new ArgumentOutOfRangeException(nameof(TimeMasks), TimeMasks, "must be >= 0");
        if (TimeWidth < 0) throw new ArgumentOutOfRangeException(nameof(TimeWidth), TimeWidth, "must be >= 0");
        if (!(MaxTimeFraction > 0 && MaxTimeFraction <= 1)) throw new ArgumentOutOfRangeException(nameof(MaxTimeFraction), MaxTimeFraction, "must be in (0, 1]");
    }

    /// <summary>
    /// Masks <paramref name="frames"/> (steps, blocks * channels) in place, drawing from <paramref name="rng"/>:
    /// <paramref name="channels"/> is the width of one block (the static features), each frame holds
    /// <paramref name="blocks"/> blocks (1 + the delta order).
    /// </summary>
    public void Apply(Span<float> frames, int steps, int channels, int blocks, Tensors.Rng rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(channels, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blocks, 1);
        int width = channels * blocks;
        if (frames.Length != steps * width) throw new ArgumentException($"frames must hold steps * channels * blocks values (expected {steps * width}, got {frames.Length})", nameof(frames));
        for (int m = 0; m < FrequencyMasks; m++)
        {
            int f = rng.NextInt(Math.Min(FrequencyWidth, channels) + 1);
            if (f == 0) continue;
            int f0 = rng.NextInt(channels - f + 1);
            for (int t = 0; t < steps; t++)
                for (int b = 0; b < blocks; b++)
                    frames.Slice(t * width + b * channels + f0, f).Clear();
        }
        int longest = Math.Min(TimeWidth, (int)Math.Floor(MaxTimeFraction * steps));
        for (int m = 0; m < TimeMasks; m++)
        {
            if (longest <= 0) break;
            int t = rng.NextInt(longest + 1);
            if (t == 0) continue;
            int t0 = rng.NextInt(steps - t + 1);
            frames.Slice(t0 * width, t * width).Clear();
        }
    }
}
