namespace Recur.Models.Decoding;

/// <summary>
/// CTC prefix beam search (Graves et al. 2006 section 3.2; Hannun et al. 2014, "First-pass large vocabulary continuous
/// speech recognition using bi-directional recurrent DNNs", algorithm 1), in log space: it keeps the
/// <see cref="BeamWidth"/> most probable output prefixes, each with two probabilities, of its alignments so far ending
/// in a blank (p_b) and ending in its last label (p_nb). For each frame, every prefix l in the beam
/// <code>
/// stays l by a blank:                 p_b'(l)    += (p_b(l) + p_nb(l)) y(blank)
/// stays l by repeating its last label: p_nb'(l)   += p_nb(l) y(last)
/// extends to l+c, c != last:          p_nb'(l+c) += (p_b(l) + p_nb(l)) y(c)
/// extends to l+c, c == last:          p_nb'(l+c) += p_b(l) y(c)       (a repeat needs a blank between)
/// </code>
/// and prefixes reached several ways merge. With a <see cref="Constraint"/>, a prefix is extended only by labels the
/// automaton allows, and only prefixes in a final state count as results. With a beam as wide as the number of
/// prefixes, the search is exact: its best result is the most probable labelling.
/// </summary>
public sealed class CtcPrefixBeamSearch
{
    /// <summary>Creates the search.</summary>
    /// <param name="beamWidth">Prefixes kept after each frame, >= 1.</param>
    /// <param name="constraint">The allowed outputs, or null for any label sequence.</param>
    public CtcPrefixBeamSearch(int beamWidth, CtcConstraint? constraint = null)
    {
        if (beamWidth < 1) throw new ArgumentOutOfRangeException(nameof(beamWidth), beamWidth, "beamWidth must be >= 1");
        BeamWidth = beamWidth;
        Constraint = constraint;
    }

    /// <summary>Prefixes kept after each frame.</summary>
    public int BeamWidth { get; }

    /// <summary>The allowed outputs, or null for any.</summary>
    public CtcConstraint? Constraint { get; }

    /// <summary>A search over frames that arrive over time (<see cref="CtcBeamSearchState.Advance"/>); <see cref="Decode"/> is one such search.</summary>
    /// <param name="classes">C, the blank (0) included.</param>
    public CtcBeamSearchState Begin(int classes) => new(this, classes);

    /// <summary>
    /// The results, most probable first: at most <see cref="BeamWidth"/> hypotheses (with a constraint, only complete
    /// ones; empty when no complete hypothesis survived the beam).
    /// </summary>
    /// <param name="scores">(T, C) row-major, one sequence's frames: logits or log-probabilities (a log-softmax is
    /// applied to each frame, which leaves log-probabilities unchanged).</param>
    /// <param name="classes">C, the blank (0) included.</param>
    public IReadOnlyList<CtcHypothesis> Decode(ReadOnlySpan<float> scores, int classes)
    {
        var state = Begin(classes);
        state.Advance(scores);
        return state.Finish();
    }

    /// <summary>The best result's labels, or an empty array when a constraint left no complete hypothesis.</summary>
    public int[] DecodeBest(ReadOnlySpan<float> scores, int classes) =>
        Decode(scores, classes) is { Count: > 0 } r ? r[0].Labels : [];

    /// <summary>log sum exp of <paramref name="row"/>, in float64.</summary>
    internal static double LogSumExp(ReadOnlySpan<float> row)
    {
        float max = TensorPrimitives.Max(row);
        if (float.IsNegativeInfinity(max)) return double.NegativeInfinity;
        double s = 0;
        foreach (float v in row) s += Math.Exp(v - (double)max);
        return max + Math.Log(s);
    }

    /// <summary>log(e^a + e^b).</summary>
    internal static double LogAdd(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        return a > b ? a + Math.Log(1 + Math.Exp(b - a)) : b + Math.Log(1 + Math.Exp(a - b));
    }
}
