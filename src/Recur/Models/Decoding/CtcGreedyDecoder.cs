namespace Recur.Models.Decoding;

/// <summary>
/// Best-path CTC decoding: the most likely class of each frame, then repeats merged and blanks (class 0) dropped,
/// so "a a - a b b" gives "a a b". It finds the most likely alignment, not the most likely labelling (which sums over
/// alignments; <see cref="CtcPrefixBeamSearch"/> searches for that).
/// </summary>
public static class CtcGreedyDecoder
{
    /// <summary>The labels of the best path through <paramref name="scores"/>.</summary>
    /// <param name="scores">(T, C) row-major, one sequence's frames: logits, probabilities or log-probabilities
    /// (only each frame's arg-max matters; ties go to the lower class). For batch-first model outputs (N, T, C),
    /// sequence b is the slice at b*T*C of its own length times C.</param>
    /// <param name="classes">C, the blank (0) included.</param>
    public static int[] Decode(ReadOnlySpan<float> scores, int classes) => DecodeWithScore(scores, classes).Labels;

    /// <summary>
    /// <see cref="Decode"/> with the best path's log-probability (the sum of each frame's log-softmax at its arg-max),
    /// which assumes <paramref name="scores"/> are logits or log-probabilities.
    /// </summary>
    public static CtcHypothesis DecodeWithScore(ReadOnlySpan<float> scores, int classes)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be >= 1 (the blank)");
        if (scores.Length % classes != 0)
            throw new ArgumentException($"scores.Length must be a multiple of classes = {classes} (frames x classes), got {scores.Length}", nameof(scores));
        int frames = scores.Length / classes;
        var labels = new List<int>();
        int previous = 0;
        double logProb = 0;
        for (int f = 0; f < frames; f++)
        {
            var row = scores.Slice(f * classes, classes);
            int k = TensorPrimitives.IndexOfMax(row);
            if (k < 0 || float.IsNaN(row[k])) throw new ArgumentException($"scores of frame {f} contain NaN", nameof(scores));
            logProb += row[k] - CtcPrefixBeamSearch.LogSumExp(row);
            if (k != 0 && k != previous) labels.Add(k);
            previous = k;
        }
        return new CtcHypothesis([.. labels], logProb);
    }
}
