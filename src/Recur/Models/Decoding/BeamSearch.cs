using Recur.Nn;

namespace Recur.Models.Decoding;

/// <summary>How <see cref="BeamSearch"/> normalises a hypothesis's log-probability by its length.</summary>
public enum LengthPenaltyForm
{
    /// <summary>log p / length^alpha: alpha 0 ranks by raw log-probability, 1 by the mean per token.</summary>
    Power,
    /// <summary>log p / ((5 + length) / 6)^alpha, the length penalty of GNMT (Wu et al. 2016, eq. 14); alpha 0 is raw log-probability.</summary>
    Gnmt,
}

/// <summary>
/// Beam search with <see cref="Width"/> hypotheses per input: at each step the best <see cref="Width"/> one-token
/// expansions of an input's live hypotheses survive, and those ending in the end token leave the beam as finished.
/// Finished hypotheses (and, at the length limit, the live ones) are ranked by log-probability / lp(length), lp given
/// by <see cref="Form"/> and <see cref="LengthPenalty"/> (length counts the end token). With
/// <see cref="NoRepeatNgram"/> = n &gt; 0, no hypothesis repeats an n-gram. <see cref="DecodeBatch(IBatchTokenStepper, RecurrentState, int, int, int)"/> advances every
/// hypothesis of many inputs in one model call per step; each input's result is what decoding it alone gives.
/// </summary>
public sealed class BeamSearch
{
    /// <summary>Creates the search.</summary>
    /// <param name="width">Hypotheses kept at each step, >= 1.</param>
    /// <param name="lengthPenalty">alpha, the exponent of the length normalisation.</param>
    /// <param name="form">The form of the length normalisation.</param>
    /// <param name="noRepeatNgram">Block repeated n-grams of this size (0: no blocking).</param>
    public BeamSearch(int width = 5, float lengthPenalty = 1f, LengthPenaltyForm form = LengthPenaltyForm.Power, int noRepeatNgram = 0)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be >= 1");
        if (!float.IsFinite(lengthPenalty)) throw new ArgumentOutOfRangeException(nameof(lengthPenalty), lengthPenalty, "lengthPenalty must be finite");
        if (noRepeatNgram < 0) throw new ArgumentOutOfRangeException(nameof(noRepeatNgram), noRepeatNgram, "noRepeatNgram must be >= 0 (0: no blocking)");
        Width = width;
        LengthPenalty = lengthPenalty;
        Form = form;
        NoRepeatNgram = noRepeatNgram;
    }

    /// <summary>Hypotheses kept at each step.</summary>
    public int Width { get; }
    /// <summary>alpha, the exponent of the length normalisation.</summary>
    public float LengthPenalty { get; }
    /// <summary>The form of the length normalisation.</summary>
    public LengthPenaltyForm Form { get; }
    /// <summary>Size of the n-grams no hypothesis may repeat (0: no blocking).</summary>
    public int NoRepeatNgram { get; }

    /// <summary>
    /// The best hypothesis, without the end token. <paramref name="model"/>'s scores must be log-probabilities; the
    /// state it returns is gathered along the hypotheses (dimension 1) as the beam changes.
    /// </summary>
    public int[] Decode(ITokenStepper model, RecurrentState start, int bos, int eos, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(model);
        return DecodeBatch(new SingleInputStepper(model), start, bos, eos, maxLength)[0].Tokens;
    }

    private sealed class Hypothesis(List<int> tokens, double logProb)
    {
        public List<int> Tokens { get; } = tokens;
        public double LogProb { get; } = logProb;
    }

    /// <summary>
    /// The best hypothesis of each of the <see cref="IBatchTokenStepper.Inputs"/> inputs, searched together: each step
    /// is one model call over the live hypotheses of all inputs. <paramref name="start"/> holds one state per input,
    /// (L, N, H); scores must be log-probabilities.
    /// </summary>
    public Decoded[] DecodeBatch(IBatchTokenStepper model, RecurrentState start, int bos, int eos, int maxLength) =>
        DecodeBatch(model, start, bos, eos, maxLength, CancellationToken.None);

    /// <summary>
    /// <see cref="DecodeBatch(IBatchTokenStepper, RecurrentState, int, int, int)"/>, checking
    /// <paramref name="cancellationToken"/> once per output step (a server stops the work of a client that went away).
    /// </summary>
    /// <exception cref="OperationCanceledException">The token was cancelled before the search ended.</exception>
    public Decoded[] DecodeBatch(IBatchTokenStepper model, RecurrentState start, int bos, int eos, int maxLength, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(start);
        int n = model.Inputs, v = model.VocabularySize;
        if (start.Hidden.Dim(1) != n)
            throw new ArgumentException($"start must hold one state per input (expected {n}, got {start.Hidden.Dim(1)})", nameof(start));
        // Live hypotheses per input; their state rows are laid out input by input, in beam order.
        var beams = new List<Hypothesis>[n];
        var finished = new List<(List<int> Tokens, double Score, bool Ended)>[n];
        for (int i = 0; i < n; i++) { beams[i] = [new([], 0.0)]; finished[i] = []; }
        var state = start;
        for (int step = 0; step < maxLength; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var last = new List<int>();
            var owner = new List<int>();
            for (int i = 0; i < n; i++)
                foreach (var b in beams[i]) { last.Add(b.Tokens.Count == 0 ? bos : b.Tokens[^1]); owner.Add(i); }
            if (last.Count == 0) break;
            var (lp, next) = model.Step([.. last], [.. owner], state);
            var rows = new List<int>();
            int first = 0; // the state row of the input's first live hypothesis
            for (int i = 0; i < n; i++)
            {
                int count = beams[i].Count;
                if (count == 0) continue;
                var candidates = new List<(int Beam, int Token, double LogProb)>();
                for (int j = 0; j < count; j++)
                {
                    var row = lp.AsSpan((first + j) * v, v);
                    Hypotheses.BlockRepeats(row, beams[i][j].Tokens, NoRepeatNgram);
                    // Only the best Width continuations of each beam can survive (Width + 1: one of them may be eos).
                    foreach (int tok in TopK(row, Width + 1)) candidates.Add((j, tok, beams[i][j].LogProb + row[tok]));
                }
                // Best first; ties by beam, then token, so the order never depends on the sort's stability.
                candidates.Sort((a, b) => b.LogProb != a.LogProb ? b.LogProb.CompareTo(a.LogProb) : a.Beam != b.Beam ? a.Beam.CompareTo(b.Beam) : a.Token.CompareTo(b.Token));
                // The best Width expansions survive; those that end in eos leave the beam as finished hypotheses, so the
                // beam shrinks as hypotheses finish.
                var survivors = new List<Hypothesis>();
                foreach (var c in candidates.Take(Width))
                {
                    var parent = beams[i][c.Beam];
                    if (c.Token == eos) finished[i].Add((parent.Tokens, Normalize(c.LogProb, parent.Tokens.Count + 1), true));
                    else
                    {
                        survivors.Add(new Hypothesis([.. parent.Tokens, c.Token], c.LogProb));
                        rows.Add(first + c.Beam);
                    }
                }
                first += count;
                beams[i] = survivors;
            }
            if (rows.Count == 0) break;
            state = Hypotheses.Gather(next, [.. rows]);
        }
        var result = new Decoded[n];
        for (int i = 0; i < n; i++)
        {
            foreach (var b in beams[i]) finished[i].Add((b.Tokens, Normalize(b.LogProb, b.Tokens.Count), false));
            if (finished[i].Count == 0) { result[i] = new Decoded([], false); continue; } // maxLength 0
            // The first of the best scores (finished before live, in the order they were found).
            var best = finished[i][0];
            foreach (var f in finished[i]) if (f.Score > best.Score) best = f;
            result[i] = new Decoded([.. best.Tokens], best.Ended);
        }
        return result;
    }

    private double Normalize(double logProb, int length) => LengthPenalty == 0f ? logProb : Form switch
    {
        LengthPenaltyForm.Gnmt => logProb / Math.Pow((5.0 + length) / 6.0, LengthPenalty),
        _ => logProb / Math.Pow(Math.Max(1, length), LengthPenalty),
    };

    /// <summary>Indices of the k largest finite values, largest first (ties: the lower index first).</summary>
    private static int[] TopK(ReadOnlySpan<float> row, int k)
    {
        k = Math.Min(k, row.Length);
        var idx = new int[k];
        var val = new float[k];
        Array.Fill(val, float.NegativeInfinity);
        int filled = 0;
        for (int i = 0; i < row.Length; i++)
        {
            if (row[i] <= val[k - 1]) continue;
            int j = k - 1;
            while (j > 0 && val[j - 1] < row[i]) { val[j] = val[j - 1]; idx[j] = idx[j - 1]; j--; }
            val[j] = row[i];
            idx[j] = i;
            if (filled < k) filled++;
        }
        return filled == k ? idx : idx[..filled];
    }
}
