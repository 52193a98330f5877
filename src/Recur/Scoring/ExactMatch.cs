namespace Recur.Scoring;

/// <summary>Exact match for translation outputs.</summary>
public static class ExactMatch
{
    /// <summary>
    /// The percentage (0..100) of hypotheses whose mteval-13a tokens (<see cref="Tokenizer13a"/>, the tokens BLEU
    /// counts) equal those of their reference: differences in spacing around punctuation do not count, any other
    /// difference does; case too unless <paramref name="lowercase"/>.
    /// </summary>
    public static double Percent(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references, bool lowercase = false)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"each hypothesis needs its reference (got {hypotheses.Count} hypotheses and {references.Count} references)", nameof(references));
        if (hypotheses.Count == 0) return 0;
        var o = new BleuOptions { Lowercase = lowercase };
        int same = 0;
        for (int i = 0; i < hypotheses.Count; i++)
            if (Bleu.Words(hypotheses[i], o).SequenceEqual(Bleu.Words(references[i], o), StringComparer.Ordinal)) same++;
        return 100.0 * same / hypotheses.Count;
    }
}
