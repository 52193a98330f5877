using Recur.Data;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>
/// Decoding and scoring of a CTC recogniser's outputs: greedy (best-path) decoding, and the standard error rates:
/// character error rate (Levenshtein distance between the character sequences over the reference length, summed over
/// the utterances), word error rate (the same over space-separated words) and whole-utterance accuracy (exact match).
/// </summary>
public static class SpeechDecoding
{
    /// <summary>
    /// Best-path decoding (Graves et al. 2006, §3.2): the most likely class at each of the first <c>lengths[b]</c>
    /// steps of <paramref name="logits"/> (B, T, C), repeats merged, blanks dropped; the texts via <paramref name="characters"/>.
    /// </summary>
    public static string[] Greedy(Tensor logits, ReadOnlySpan<int> lengths, CharacterSet characters)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(characters);
        if (logits.Rank != 3) throw new ArgumentException($"logits must be (B, T, C), got {Tensor.ShapeString(logits.Shape)}", nameof(logits));
        int b = logits.Dim(0), t = logits.Dim(1), c = logits.Dim(2);
        if (lengths.Length != b) throw new ArgumentException($"lengths must hold one length per sequence (expected {b}, got {lengths.Length})", nameof(lengths));
        if (c != characters.Count) throw new ArgumentException($"logits must have one class per character plus the blank (expected {characters.Count}, got {c})", nameof(logits));
        var result = new string[b];
        var span = logits.Span;
        for (int i = 0; i < b; i++)
        {
            if ((uint)lengths[i] > (uint)t) throw new ArgumentOutOfRangeException(nameof(lengths), lengths[i], $"lengths[{i}] must be in [0, {t}]");
            var path = new List<int>();
            int previous = CharacterSet.Blank;
            for (int s = 0; s < lengths[i]; s++)
            {
                int best = TensorPrimitives.IndexOfMax(span.Slice((i * t + s) * c, c));
                if (best != CharacterSet.Blank && best != previous) path.Add(best);
                previous = best;
            }
            result[i] = characters.Decode(path);
        }
        return result;
    }

    /// <summary>The Levenshtein distance (substitutions, insertions, deletions, each 1) between two sequences.</summary>
    public static int EditDistance<T>(IReadOnlyList<T> reference, IReadOnlyList<T> hypothesis)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(hypothesis);
        var comparer = EqualityComparer<T>.Default;
        var row = new int[hypothesis.Count + 1];
        for (int j = 0; j <= hypothesis.Count; j++) row[j] = j;
        for (int i = 1; i <= reference.Count; i++)
        {
            int diagonal = row[0];
            row[0] = i;
            for (int j = 1; j <= hypothesis.Count; j++)
            {
                int above = row[j];
                row[j] = Math.Min(Math.Min(above + 1, row[j - 1] + 1), diagonal + (comparer.Equals(reference[i - 1], hypothesis[j - 1]) ? 0 : 1));
                diagonal = above;
            }
        }
        return row[hypothesis.Count];
    }

    /// <summary>
    /// <c>cer</c> (total character edits / total reference characters), <c>wer</c> (the same over words split on
    /// spaces), <c>utterance_accuracy</c> (fraction of hypotheses equal to their reference), keys prefixed by
    /// <paramref name="prefix"/>.
    /// </summary>
    public static Dictionary<string, double> Metrics(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(references);
        ArgumentNullException.ThrowIfNull(hypotheses);
        if (references.Count != hypotheses.Count) throw new ArgumentException($"expected one hypothesis per reference ({references.Count}), got {hypotheses.Count}", nameof(hypotheses));
        long charEdits = 0, chars = 0, wordEdits = 0, words = 0, exact = 0;
        for (int i = 0; i < references.Count; i++)
        {
            charEdits += EditDistance(references[i].ToCharArray(), hypotheses[i].ToCharArray());
            chars += references[i].Length;
            var rw = Words(references[i]);
            wordEdits += EditDistance(rw, Words(hypotheses[i]));
            words += rw.Length;
            if (references[i] == hypotheses[i]) exact++;
        }
        return new Dictionary<string, double>
        {
            [prefix + "cer"] = chars == 0 ? 0 : (double)charEdits / chars,
            [prefix + "wer"] = words == 0 ? 0 : (double)wordEdits / words,
            [prefix + "utterance_accuracy"] = references.Count == 0 ? 0 : (double)exact / references.Count,
        };
    }

    private static string[] Words(string text) => text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
}
