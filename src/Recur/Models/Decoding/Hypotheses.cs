using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models.Decoding;

/// <summary>Helpers the decoders share: row gathering of recurrent states and n-gram repetition blocking.</summary>
internal static class Hypotheses
{
    /// <summary>The states (L, W, H) of the rows named in <paramref name="rows"/>, in that order: (L, rows.Length, H).</summary>
    public static RecurrentState Gather(RecurrentState state, int[] rows)
    {
        int layers = state.Hidden.Dim(0), width = state.Hidden.Dim(1), hd = state.Hidden.Dim(2);
        var h = new Tensor(layers, rows.Length, hd);
        var c = state.Cell is null ? null : new Tensor(layers, rows.Length, hd);
        for (int j = 0; j < rows.Length; j++)
            for (int l = 0; l < layers; l++)
            {
                state.Hidden.Span.Slice((l * width + rows[j]) * hd, hd).CopyTo(h.Span.Slice((l * rows.Length + j) * hd, hd));
                if (c is not null) state.Cell!.Span.Slice((l * width + rows[j]) * hd, hd).CopyTo(c.Span.Slice((l * rows.Length + j) * hd, hd));
            }
        return RecurrentState.From(h, c);
    }

    /// <summary>
    /// No-repeat n-gram blocking (as fairseq's --no-repeat-ngram-size): sets to -inf the score of every token that
    /// would complete an n-gram of <paramref name="n"/> tokens already present in <paramref name="tokens"/>.
    /// </summary>
    public static void BlockRepeats(Span<float> scores, List<int> tokens, int n)
    {
        if (n <= 0 || tokens.Count < n - 1) return;
        int start = tokens.Count - (n - 1); // the last n-1 tokens are the prefix of the next n-gram
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            bool same = true;
            for (int k = 0; k < n - 1 && same; k++) same = tokens[i + k] == tokens[start + k];
            if (same) scores[tokens[i + n - 1]] = float.NegativeInfinity;
        }
    }
}
