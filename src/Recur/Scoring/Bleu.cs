namespace Recur.Scoring;

/// <summary>How <see cref="Bleu"/> treats an n-gram order with no match (Chen and Cherry 2014, as sacreBLEU names them).</summary>
public enum BleuSmoothing
{
    /// <summary>No smoothing: a zero precision makes BLEU 0.</summary>
    None,
    /// <summary>Method 1: a zero match count becomes <see cref="BleuOptions.SmoothValue"/> (default 0.1).</summary>
    Floor,
    /// <summary>Method 2: <see cref="BleuOptions.SmoothValue"/> (default 1) is added to matches and totals for n &gt; 1.</summary>
    AddK,
    /// <summary>Method 3, mteval-v13a's: the k-th order with no match gets precision 1 / (2^k total).</summary>
    Exp,
}

/// <summary>How <see cref="Bleu"/> splits text into words.</summary>
public enum BleuTokenization
{
    /// <summary>mteval-v13a (<see cref="Tokenizer13a"/>), sacreBLEU's default.</summary>
    Mteval13a,
    /// <summary>Whitespace only: the text is already tokenised.</summary>
    None,
}

/// <summary>Settings of <see cref="Bleu"/>; the defaults are sacreBLEU's (BLEU-4, 13a, exp smoothing, case-sensitive).</summary>
public sealed record BleuOptions
{
    /// <summary>The tokenisation applied to hypotheses and references.</summary>
    public BleuTokenization Tokenization { get; init; } = BleuTokenization.Mteval13a;
    /// <summary>Smoothing of n-gram orders with no match.</summary>
    public BleuSmoothing Smoothing { get; init; } = BleuSmoothing.Exp;
    /// <summary>The value of <see cref="BleuSmoothing.Floor"/> (default 0.1) and <see cref="BleuSmoothing.AddK"/> (default 1).</summary>
    public double? SmoothValue { get; init; }
    /// <summary>Largest n-gram order (4: BLEU-4).</summary>
    public int MaxOrder { get; init; } = 4;
    /// <summary>Average only over the orders up to the last with any n-gram in the hypotheses (sacreBLEU's option for sentence BLEU).</summary>
    public bool EffectiveOrder { get; init; }
    /// <summary>Lower-case hypotheses and references first (sacreBLEU <c>-lc</c>).</summary>
    public bool Lowercase { get; init; }

    /// <summary>A short description for reports, e.g. "sacreBLEU 13a, exp smoothing".</summary>
    public string Describe() =>
        $"sacreBLEU {(Tokenization == BleuTokenization.Mteval13a ? "13a" : "no tokenisation")}, {Smoothing.ToString().ToLowerInvariant()} smoothing" +
        (MaxOrder != 4 ? $", order {MaxOrder}" : "") + (Lowercase ? ", lowercased" : "");
}

/// <summary>A BLEU score in [0, 100] with its sufficient statistics.</summary>
/// <param name="Score">BLEU, 0..100.</param>
/// <param name="Counts">Clipped n-gram matches per order (n = 1..MaxOrder).</param>
/// <param name="Totals">Hypothesis n-grams per order.</param>
/// <param name="Precisions">Per-order precision in percent, after smoothing.</param>
/// <param name="BrevityPenalty">exp(1 - r/c) when c &lt; r, else 1.</param>
/// <param name="HypothesisLength">c, the hypotheses' total length in tokens.</param>
/// <param name="ReferenceLength">r, the sum of the reference lengths closest to each hypothesis's.</param>
public sealed record BleuScore(double Score, long[] Counts, long[] Totals, double[] Precisions, double BrevityPenalty, long HypothesisLength, long ReferenceLength);

/// <summary>
/// Corpus BLEU (Papineni et al. 2002) as sacreBLEU 2.x computes it (sacrebleu/metrics/bleu.py): hypotheses and
/// references tokenised (13a by default), n-gram counts clipped by the maximum count over a segment's references and
/// summed over the corpus, per-order precisions smoothed (exp by default), their geometric mean times the brevity
/// penalty exp(1 - r/c) when the hypotheses are shorter (c) than the references (r: for each hypothesis, the closest
/// reference length, the shorter on ties). An order with no hypothesis n-gram at all gives precision 0 and BLEU 0
/// (unless <see cref="BleuOptions.EffectiveOrder"/>); no match at any order gives 0.
/// </summary>
public static class Bleu
{
    /// <summary>BLEU of raw hypotheses against one raw reference each.</summary>
    public static BleuScore Corpus(IReadOnlyList<string> hypotheses, IReadOnlyList<string> references, BleuOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(references);
        return CorpusMulti(hypotheses, references.Select(r => (IReadOnlyList<string>)[r]).ToList(), options);
    }

    /// <summary>BLEU of raw hypotheses against one or more raw references each (<paramref name="references"/>[i] for hypothesis i).</summary>
    public static BleuScore CorpusMulti(IReadOnlyList<string> hypotheses, IReadOnlyList<IReadOnlyList<string>> references, BleuOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(hypotheses);
        ArgumentNullException.ThrowIfNull(references);
        var o = options ?? new BleuOptions();
        if (o.MaxOrder < 1) throw new ArgumentOutOfRangeException(nameof(options), o.MaxOrder, "MaxOrder must be >= 1");
        if (hypotheses.Count != references.Count)
            throw new ArgumentException($"each hypothesis needs its references (got {hypotheses.Count} hypotheses and {references.Count} reference sets)", nameof(references));
        int maxN = o.MaxOrder;
        var counts = new long[maxN];
        var totals = new long[maxN];
        long sys = 0, rf = 0;
        for (int i = 0; i < hypotheses.Count; i++)
        {
            var refs = references[i];
            if (refs.Count == 0) throw new ArgumentException($"hypothesis {i} has no reference", nameof(references));
            var hyp = Words(hypotheses[i] ?? throw new ArgumentException($"hypothesis {i} is null", nameof(hypotheses)), o);
            var maxRef = new Dictionary<(int N, string Gram), int>();
            int closest = -1;
            foreach (var r in refs)
            {
                var words = Words(r ?? throw new ArgumentException($"a reference of hypothesis {i} is null", nameof(references)), o);
                int diff = Math.Abs(hyp.Count - words.Count);
                if (closest < 0 || diff < Math.Abs(hyp.Count - closest) || (diff == Math.Abs(hyp.Count - closest) && words.Count < closest)) closest = words.Count;
                foreach (var (g, k) in Ngrams(words, maxN)) maxRef[g] = Math.Max(maxRef.GetValueOrDefault(g), k);
            }
            sys += hyp.Count;
            rf += closest;
            foreach (var (g, k) in Ngrams(hyp, maxN))
            {
                int n = g.N;
                totals[n - 1] += k;
                counts[n - 1] += Math.Min(k, maxRef.GetValueOrDefault(g));
            }
        }
        return FromStatistics(counts, totals, sys, rf, o);
    }

    /// <summary>
    /// BLEU from its sufficient statistics (sacreBLEU's <c>BLEU.compute_bleu</c>): matches and totals per order, the
    /// hypothesis length c and the reference length r.
    /// </summary>
    public static BleuScore FromStatistics(IReadOnlyList<long> counts, IReadOnlyList<long> totals, long hypothesisLength, long referenceLength, BleuOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(totals);
        var o = options ?? new BleuOptions();
        int maxN = o.MaxOrder;
        if (counts.Count != maxN || totals.Count != maxN)
            throw new ArgumentException($"counts and totals need one entry per order (expected {maxN}, got {counts.Count} and {totals.Count})", nameof(counts));
        double bp = 1;
        if (hypothesisLength < referenceLength) bp = hypothesisLength > 0 ? Math.Exp(1 - (double)referenceLength / hypothesisLength) : 0;
        var precisions = new double[maxN];
        long[] c = [.. counts], t = [.. totals];
        if (c.All(x => x == 0)) return new BleuScore(0, c, t, precisions, bp, hypothesisLength, referenceLength);
        double smoothValue = o.SmoothValue ?? (o.Smoothing == BleuSmoothing.AddK ? 1 : 0.1);
        double smoothMteval = 1;
        int effectiveOrder = maxN;
        double[] correct = [.. c.Select(x => (double)x)], total = [.. t.Select(x => (double)x)];
        for (int n = 1; n <= maxN; n++)
        {
            if (o.Smoothing == BleuSmoothing.AddK && n > 1) { correct[n - 1] += smoothValue; total[n - 1] += smoothValue; }
            if (total[n - 1] == 0) break;
            if (o.EffectiveOrder) effectiveOrder = n;
            if (correct[n - 1] == 0)
            {
                if (o.Smoothing == BleuSmoothing.Exp) { smoothMteval *= 2; precisions[n - 1] = 100.0 / (smoothMteval * total[n - 1]); }
                else if (o.Smoothing == BleuSmoothing.Floor) precisions[n - 1] = 100.0 * smoothValue / total[n - 1];
            }
            else precisions[n - 1] = 100.0 * correct[n - 1] / total[n - 1];
        }
        double logSum = 0;
        for (int n = 0; n < effectiveOrder; n++) logSum += precisions[n] == 0 ? -9999999999.0 : Math.Log(precisions[n]); // sacreBLEU's my_log
        return new BleuScore(bp * Math.Exp(logSum / effectiveOrder), c, t, precisions, bp, hypothesisLength, referenceLength);
    }

    /// <summary>The words BLEU counts in <paramref name="text"/>: lower-cased if asked, right-stripped, tokenised, split on whitespace.</summary>
    internal static List<string> Words(string text, BleuOptions o)
    {
        if (o.Lowercase) text = text.ToLowerInvariant();
        text = Tokenizer13a.RStrip(text);
        if (o.Tokenization == BleuTokenization.Mteval13a) text = Tokenizer13a.Tokenize(text);
        return Tokenizer13a.SplitWhitespace(text);
    }

    // n-grams of every order 1..maxN with their counts, keyed by (n, the words joined with U+0001).
    private static Dictionary<(int N, string Gram), int> Ngrams(List<string> tokens, int maxN)
    {
        var d = new Dictionary<(int N, string Gram), int>();
        for (int n = 1; n <= maxN; n++)
            for (int i = 0; i + n <= tokens.Count; i++)
            {
                var g = (n, string.Join('\u0001', tokens.GetRange(i, n)));
                d[g] = d.GetValueOrDefault(g) + 1;
            }
        return d;
    }
}
