using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models.Decoding;

/// <summary>
/// Beam search with <see cref="Width"/> hypotheses: at each step the best <see cref="Width"/> one-token expansions
/// of the live hypotheses survive, and those ending in the end token leave the beam as finished. Finished hypotheses
/// (and, at the length limit, the live ones) are ranked by log-probability / length^<see cref="LengthPenalty"/>
/// (length counts the end token): 0 ranks by raw log-probability, 1 by the mean per token.
/// </summary>
public sealed class BeamSearch
{
    /// <summary>Creates the search.</summary>
    /// <param name="width">Hypotheses kept at each step, >= 1.</param>
    /// <param name="lengthPenalty">The exponent of the length normalisation.</param>
    public BeamSearch(int width = 5, float lengthPenalty = 1f)
    {
        if (width < 1) throw new ArgumentOutOfRangeException(nameof(width), width, "width must be >= 1");
        Width = width;
        LengthPenalty = lengthPenalty;
    }

    /// <summary>Hypotheses kept at each step.</summary>
    public int Width { get; }
    /// <summary>The exponent of the length normalisation.</summary>
    public float LengthPenalty { get; }

    /// <summary>
    /// The best hypothesis, without the end token. <paramref name="model"/>'s scores must be log-probabilities; the
    /// state it returns is gathered along the hypotheses (dimension 1) as the beam changes.
    /// </summary>
    public int[] Decode(ITokenStepper model, RecurrentState start, int bos, int eos, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(start);
        int v = model.VocabularySize;
        var beams = new List<(List<int> Tokens, double LogProb)> { ([], 0.0) };
        var state = start;
        var finished = new List<(List<int> Tokens, double Score)>();
        for (int step = 0; step < maxLength && beams.Count > 0; step++)
        {
            int[] last = beams.Select(b => b.Tokens.Count == 0 ? bos : b.Tokens[^1]).ToArray();
            var (lp, next) = model.Step(last, state);
            var candidates = new List<(int Beam, int Token, double LogProb)>();
            for (int i = 0; i < beams.Count; i++)
            {
                var row = lp.AsSpan(i * v, v);
                // Only the best Width continuations of each beam can survive.
                foreach (int tok in TopK(row, Width + 1)) candidates.Add((i, tok, beams[i].LogProb + row[tok]));
            }
            candidates.Sort((a, b) => b.LogProb.CompareTo(a.LogProb));
            // The best Width expansions survive; those that end in eos leave the beam as finished hypotheses, so the
            // beam shrinks as hypotheses finish.
            var survivors = new List<(int Beam, int Token, double LogProb)>();
            foreach (var c in candidates.Take(Width))
            {
                if (c.Token == eos) finished.Add((beams[c.Beam].Tokens, Normalize(c.LogProb, beams[c.Beam].Tokens.Count + 1)));
                else survivors.Add(c);
            }
            if (survivors.Count == 0) { beams.Clear(); break; }
            state = Gather(next, beams.Count, survivors.Select(s => s.Beam).ToArray());
            beams = survivors.Select(s => (new List<int>(beams[s.Beam].Tokens) { s.Token }, s.LogProb)).ToList();
        }
        foreach (var b in beams) finished.Add((b.Tokens, Normalize(b.LogProb, b.Tokens.Count)));
        return [.. finished.OrderByDescending(f => f.Score).First().Tokens];
    }

    private double Normalize(double logProb, int length) => LengthPenalty == 0f ? logProb : logProb / Math.Pow(Math.Max(1, length), LengthPenalty);

    /// <summary>The states (L, W, H) of the beams named in <paramref name="from"/>, in that order: (L, from.Length, H).</summary>
    private static RecurrentState Gather(RecurrentState state, int width, int[] from)
    {
        int layers = state.Hidden.Dim(0), hd = state.Hidden.Dim(2);
        var h = new Tensor(layers, from.Length, hd);
        var c = state.Cell is null ? null : new Tensor(layers, from.Length, hd);
        for (int j = 0; j < from.Length; j++)
            for (int l = 0; l < layers; l++)
            {
                state.Hidden.Span.Slice((l * width + from[j]) * hd, hd).CopyTo(h.Span.Slice((l * from.Length + j) * hd, hd));
                if (c is not null) state.Cell!.Span.Slice((l * width + from[j]) * hd, hd).CopyTo(c.Span.Slice((l * from.Length + j) * hd, hd));
            }
        return RecurrentState.From(h, c);
    }

    /// <summary>Indices of the k largest values, largest first (ties: the lower index first).</summary>
    private static int[] TopK(ReadOnlySpan<float> row, int k)
    {
        k = Math.Min(k, row.Length);
        var idx = new int[k];
        var val = new float[k];
        Array.Fill(val, float.NegativeInfinity);
        for (int i = 0; i < row.Length; i++)
        {
            if (row[i] <= val[k - 1]) continue;
            int j = k - 1;
            while (j > 0 && val[j - 1] < row[i]) { val[j] = val[j - 1]; idx[j] = idx[j - 1]; j--; }
            val[j] = row[i];
            idx[j] = i;
        }
        return idx;
    }
}
