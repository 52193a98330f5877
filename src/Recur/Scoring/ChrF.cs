using System.Text;

namespace Recur.Scoring;

/// <summary>Settings of <see cref="ChrF"/>; the defaults are sacreBLEU's chrF2 (character order 6, no word n-grams, beta 2).</summary>
public sealed record ChrFOptions
{
    /// <summary>Largest character n-gram order.</summary>
    public int CharOrder { get; init; } = 6;
    /// <summary>Largest word n-gram order (2: chrF++; 0: chrF).</summary>
    public int WordOrder { get; init; }
    /// <summary>Weight of recall against precision.</summary>
    public double Beta { get; init; } = 2;
    /// <summary>Lower-case hypotheses and references first.</summary>
    public bool Lowercase { get; init; }
    /// <summary>Keep whitespace inside character n-grams (sacreBLEU's <c>whitespace</c>; off by default).</summary>
    public bool Whitespace { get; init; }
    /// <summary>
    /// Average the per-order F-scores with epsilon for empty orders (chrF++.py, NLTK, Moses); off (sacreBLEU's default):
    /// the F-score of the precision and recall averaged over the orders that both sides have.
    /// </summary>
    public bool EpsSmoothing { get; init; }
}

/// <summary>
/// Corpus chrF (Popović 2015) as sacreBLEU 2.x computes it (sacrebleu/metrics/chrf.py): per segment and order, the
/// hypothesis, reference and matched character n-gram counts (whitespace removed; with several references, those of
/// the reference with the best segment F-score), summed over the corpus; then the F-beta score, 0..100.
/// </summary>
public static class ChrF
{
    private static readonly HashSet<char> Punctuation = [.. "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"];

    /// <summary>chrF of raw hypotheses against one raw reference each.</summary>
    public static double Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references, ChrFOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        return CorpusMulti(hypotheses, references.Select(r => (IReadOnlyList<string>)[r]).ToList(), options);
    }

    /// <summary>chrF of raw hypotheses against one or more raw references each (<paramref name="references"/>[i] for hypothesis i).</summary>
    public static double CorpusMulti(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, ChrFOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        var o = options ?? new ChrFOptions();
        if (o.CharOrder < 0 || o.WordOrder < 0 || o.CharOrder + o.WordOrder < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"CharOrder and WordOrder must be >= 0 with at least one order (got {o.CharOrder} and {o.WordOrder})");
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"each hypothesis needs its references (got {hypotheses.Count} hypotheses and {references.Count} reference sets)", nameof(references));
        int orders = o.CharOrder + o.WordOrder;
        var sum = new long[3 * orders];
        for (int i = 0; i < hypotheses.Count; i++)
        {
            if (references[i].Count == 0) throw new ArgumentException($"hypothesis {i} has no reference", nameof(references));
            var hyp = Extract(hypotheses[i] ?? throw new ArgumentException($"hypothesis {i} is null", nameof(hypotheses)), o);
            long[]? best = null;
            double bestF = -1;
            foreach (var r in references[i])
            {
                var rf = Extract(r ?? throw new ArgumentException($"a reference of hypothesis {i} is null", nameof(references)), o);
                var stats = new long[3 * orders];
                for (int n = 0; n < orders; n++)
                {
                    long matched = 0, hypCount = 0;
                    foreach (var (g, k) in hyp[n])
                    {
                        hypCount += k;
                        if (rf[n].TryGetValue(g, out int rk)) matched += Math.Min(k, rk);
                    }
                    stats[3 * n] = rf[n].Count > 0 ? hypCount : 0; // sacreBLEU: no hits counted when the reference has no n-gram of that order
                    stats[3 * n + 1] = rf[n].Values.Sum();
                    stats[3 * n + 2] = matched;
                }
                double f = FScore(stats, o);
                if (f > bestF) { bestF = f; best = stats; }
            }
            for (int k = 0; k < sum.Length; k++) sum[k] += best![k];
        }
        return FScore(sum, o);
    }

    /// <summary>The F-score (0..100) of [hyp, ref, match] counts per order (sacreBLEU's <c>_compute_f_score</c>).</summary>
    private static double FScore(long[] stats, ChrFOptions o)
    {
        const double eps = 1e-16;
        int orders = stats.Length / 3;
        double factor = o.Beta * o.Beta, score = 0, avgPrec = 0, avgRec = 0;
        int effective = 0;
        for (int i = 0; i < orders; i++)
        {
            long nHyp = stats[3 * i], nRef = stats[3 * i + 1], nMatch = stats[3 * i + 2];
            double prec = nHyp > 0 ? (double)nMatch / nHyp : eps;
            double rec = nRef > 0 ? (double)nMatch / nRef : eps;
            double denom = factor * prec + rec;
            score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
            if (nHyp > 0 && nRef > 0) { avgPrec += prec; avgRec += rec; effective++; }
        }
        if (o.EpsSmoothing) return 100 * score / orders;
        if (effective == 0) avgPrec = avgRec = 0;
        else { avgPrec /= effective; avgRec /= effective; }
        if (avgPrec + avgRec == 0) return 0;
        return 100 * (1 + factor) * avgPrec * avgRec / (factor * avgPrec + avgRec);
    }

    /// <summary>Character n-gram counts of orders 1..CharOrder (in code points), then word n-gram counts of orders 1..WordOrder.</summary>
    private static List<Dictionary<string, int>> Extract(string text, ChrFOptions o)
    {
        if (o.Lowercase) text = text.ToLowerInvariant();
        string chars = o.Whitespace ? text : string.Concat(Tokenizer13a.SplitWhitespace(text));
        // Start offsets of each code point, so that n-grams count code points as Python does, not UTF-16 units.
        var starts = new List<int>();
        for (int i = 0; i < chars.Length; i += char.IsSurrogatePair(chars, i) ? 2 : 1) starts.Add(i);
        starts.Add(chars.Length);
        int points = starts.Count - 1;
        var result = new List<Dictionary<string, int>>();
        for (int n = 1; n <= o.CharOrder; n++)
        {
            var d = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i + n <= points; i++)
            {
                string g = chars[starts[i]..starts[i + n]];
                d[g] = d.GetValueOrDefault(g) + 1;
            }
            result.Add(d);
        }
        if (o.WordOrder > 0)
        {
            var words = SplitPunctuation(text);
            for (int n = 1; n <= o.WordOrder; n++)
            {
                var d = new Dictionary<string, int>(StringComparer.Ordinal);
                for (int i = 0; i + n <= words.Count; i++)
                {
                    string g = string.Join(' ', words.GetRange(i, n));
                    d[g] = d.GetValueOrDefault(g) + 1;
                }
                result.Add(d);
            }
        }
        return result;
    }

    /// <summary>chrF++'s word split: one punctuation mark at the end (else at the start) of a word of 2+ characters becomes a word of its own.</summary>
    private static List<string> SplitPunctuation(string text)
    {
        var words = new List<string>();
        foreach (var w in Tokenizer13a.SplitWhitespace(text))
        {
            if (w.Length == 1) words.Add(w);
            else if (Punctuation.Contains(w[^1])) { words.Add(w[..^1]); words.Add(w[^1..]); }
            else if (Punctuation.Contains(w[0])) { words.Add(w[..1]); words.Add(w[1..]); }
            else words.Add(w);
        }
        return words;
    }
}
