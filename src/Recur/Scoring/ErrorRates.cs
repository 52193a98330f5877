using System.Text;

namespace Recur.Scoring;

/// <summary>
/// Speech-recognition metrics, corpus level, with their standard definitions (as NIST sclite and jiwer compute them):
/// <code>
/// cer = sum over utterances of EditDistance(reference chars, hypothesis chars) / sum of reference lengths in chars
/// wer = the same over words (maximal runs of non-white-space)
/// utterance_accuracy = utterances whose hypothesis equals its reference exactly / utterances
/// </code>
/// EditDistance is the Levenshtein distance: the fewest substitutions, insertions and deletions, each costing 1.
/// Characters are Unicode code points, spaces included; no case folding or other normalisation is applied, so
/// callers normalise both sides alike first. The rates are fractions (0.02 = 2 %) and can exceed 1 when hypotheses
/// hold many insertions.
/// </summary>
public static class ErrorRates
{
    /// <summary>Levenshtein distance between two sequences: substitutions + insertions + deletions, unit costs.</summary>
    public static int EditDistance<T>(ReadOnlySpan<T> reference, ReadOnlySpan<T> hypothesis) where T : IEquatable<T>
    {
        if (reference.Length == 0) return hypothesis.Length;
        if (hypothesis.Length == 0) return reference.Length;
        // row[j] = distance between reference[..i] and hypothesis[..j]
        var row = new int[hypothesis.Length + 1];
        for (int j = 0; j <= hypothesis.Length; j++) row[j] = j;
        for (int i = 1; i <= reference.Length; i++)
        {
            int diagonal = row[0];   // distance(reference[..i-1], hypothesis[..j-1])
            row[0] = i;
            for (int j = 1; j <= hypothesis.Length; j++)
            {
                int above = row[j];
                int substitute = diagonal + (reference[i - 1].Equals(hypothesis[j - 1]) ? 0 : 1);
                row[j] = Math.Min(substitute, Math.Min(above + 1, row[j - 1] + 1));
                diagonal = above;
            }
        }
        return row[hypothesis.Length];
    }

    /// <summary>The characters of <paramref name="text"/> as Unicode code points.</summary>
    public static int[] Characters(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var points = new List<int>(text.Length);
        foreach (Rune r in text.EnumerateRunes()) points.Add(r.Value);
        return [.. points];
    }

    /// <summary>The words of <paramref name="text"/>: maximal runs of non-white-space characters.</summary>
    public static string[] Words(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// Character error rate (cer): total character edits over the total reference characters. Throws when the
    /// references hold no characters at all (the rate is undefined).
    /// </summary>
    public static double CharacterErrorRate(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        var (edits, length) = Count(hypotheses, references, Characters);
        return Rate(edits, length, "characters");
    }

    /// <summary>
    /// Word error rate (wer): total word edits over the total reference words. Throws when the references hold no
    /// words at all (the rate is undefined).
    /// </summary>
    public static double WordErrorRate(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        var (edits, length) = Count(hypotheses, references, Words);
        return Rate(edits, length, "words");
    }

    /// <summary>Whole-utterance accuracy (utterance_accuracy): the fraction of hypotheses equal to their reference (ordinal comparison).</summary>
    public static double UtteranceAccuracy(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        Check(hypotheses, references);
        if (references.Count == 0) throw new ArgumentException("there are no utterances to score", nameof(references));
        int same = 0;
        for (int i = 0; i < references.Count; i++)
            if (string.Equals(hypotheses[i], references[i], StringComparison.Ordinal)) same++;
        return (double)same / references.Count;
    }

    /// <summary>The total edit distance and the total reference length, over the units <paramref name="split"/> gives.</summary>
    public static (long Edits, long ReferenceLength) Count<T>(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references,
        Func<string, T[]> split) where T : IEquatable<T>
    {
        Check(hypotheses, references);
        ArgumentNullException.ThrowIfNull(split);
        long edits = 0, length = 0;
        for (int i = 0; i < references.Count; i++)
        {
            var r = split(references[i]);
            edits += EditDistance<T>(r, split(hypotheses[i]));
            length += r.Length;
        }
        return (edits, length);
    }

    private static double Rate(long edits, long length, string unit)
    {
        if (length == 0) throw new ArgumentException($"the references hold no {unit}: the error rate is undefined", "references");
        return (double)edits / length;
    }

    private static void Check(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"each hypothesis needs its reference (got {hypotheses.Count} hypotheses and {references.Count} references)", nameof(references));
        for (int i = 0; i < references.Count; i++)
        {
            if (references[i] is null) throw new ArgumentException($"references[{i}] is null", nameof(references));
            if (hypotheses[i] is null) throw new ArgumentException($"hypotheses[{i}] is null", nameof(hypotheses));
        }
    }
}
