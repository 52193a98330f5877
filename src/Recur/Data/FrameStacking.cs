namespace Recur.Data;

/// <summary>
/// Frame stacking with subsampling (Sak et al. 2015, "Fast and accurate recurrent neural network acoustic models for
/// speech recognition"): every <c>k</c> adjacent frames are concatenated into one, with stride <c>k</c>, so
/// (T, W) becomes (ceil(T / k), k W). The last group, when T is not a multiple of k, is padded with zero frames, so no
/// frame at the end of the utterance is dropped.
/// </summary>
public static class FrameStacking
{
    /// <summary>Frames after stacking <paramref name="factor"/> at a time: ceil(steps / factor).</summary>
    public static int StackedSteps(int steps, int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        return (steps + factor - 1) / factor;
    }

    /// <summary>The frames (steps, width) stacked: (ceil(steps / factor), factor * width), row-major.</summary>
    public static float[] Stack(ReadOnlySpan<float> frames, int steps, int width, int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        int outSteps = StackedSteps(steps, factor);
        if (frames.Length != steps * width) throw new ArgumentException($"frames must hold steps * width values (expected {steps * width}, got {frames.Length})", nameof(frames));
        // Row-major (T, W) frames are already the concatenation: output row s is input rows s*k .. s*k+k-1 back to back.
        var output = new float[outSteps * factor * width];
        frames.CopyTo(output);
        return output;
    }
}
