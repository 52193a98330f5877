namespace Recur.Scoring;

/// <summary>
/// Corpus BLEU (Papineni et al. 2002) with the usual definition, as sacreBLEU and NLTK's corpus_bleu compute it
/// without smoothing: n-gram precisions (n = 1..4) with counts clipped by the references and summed over the whole
/// corpus, their geometric mean with uniform weights, times the brevity penalty exp(1 - r/c) when the candidate
/// corpus is shorter (c) than the reference corpus (r, the reference length closest to each candidate's).
/// Returns a value in [0, 1]; 0 when some n has no match at all.
/// </summary>
public static class Bleu
{
    /// <summary>BLEU of tokenised candidates against one or more tokenised references each.</summary>
    public static double Corpus(IReadOnlyList<IReadOnlyList<string>> candidates, IReadOnlyList<IReadOnlyList<IReadOnlyList<string>>> references, int maxN = 4)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(references);
        if (candidates.Count != references.Count)
            throw new ArgumentException($"each candidate needs its references (got {candidates.Count} candidates and {references.Count} reference sets)");
        var matches = new long[maxN];
        var totals = new long[maxN];
        long c = 0, r = 0;
        for (int i = 0; i < candidates.Count; i++)
        {
            var cand = candidates[i];
            var refs = references[i];
            if (refs.Count == 0) throw new ArgumentException($"candidate {i} has no reference");
            c += cand.Count;
            // The reference length closest to the candidate's (the shorter one on ties).
            r += refs.Select(x => x.Count).OrderBy(len => Math.Abs(len - cand.Count)).ThenBy(len => len).First();
            for (int n = 1; n <= maxN; n++)
            {
                var counts = Ngrams(cand, n);
                var maxRef = new Dictionary<string, int>(StringComparer.Ordinal);
                foreach (var rf in refs)
                    foreach (var (g, k) in Ngrams(rf, n))
                        maxRef[g] = Math.Max(maxRef.GetValueOrDefault(g), k);
                foreach (var (g, k) in counts) matches[n - 1] += Math.Min(k, maxRef.GetValueOrDefault(g));
                totals[n - 1] += Math.Max(0, cand.Count - n + 1);
            }
        }
        if (c == 0) return 0;
        double logSum = 0;
        for (int n = 0; n < maxN; n++)
        {
            if (matches[n] == 0 || totals[n] == 0) return 0;
            logSum += Math.Log((double)matches[n] / totals[n]);
        }
        double bp = c > r ? 1 : Math.Exp(1 - (double)r / c);
        return bp * Math.Exp(logSum / maxN);
    }

    /// <summary>BLEU with a single reference per candidate.</summary>
    public static double Corpus(IReadOnlyList<IReadOnlyList<string>> candidates, IReadOnlyList<IReadOnlyList<string>> references, int maxN = 4) =>
        Corpus(candidates, references.Select(r => (IReadOnlyList<IReadOnlyList<string>>)[r]).ToList(), maxN);

    private static Dictionary<string, int> Ngrams(IReadOnlyList<string> tokens, int n)
    {
        var d = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i + n <= tokens.Count; i++)
        {
            string g = string.Join('\u0001', Enumerable.Range(i, n).Select(k => tokens[k]));
            d[g] = d.GetValueOrDefault(g) + 1;
        }
        return d;
    }
}
