using Recur.Scoring;

namespace Recur.Tests.Scoring;

/// <summary>
/// BLEU, chrF and the 13a tokenizer against sacreBLEU's own test vectors: github.com/mjpost/sacrebleu at commit
/// f615c72, files test/test_bleu.py, test/test_sentence_bleu.py and test/test_chrf.py (inputs and expected scores
/// copied from there; sacreBLEU's reference "streams" are regrouped per hypothesis).
/// </summary>
public class SacreBleuTests
{
    // test_bleu.py: _hyps and _refs (two reference streams).
    private static readonly string[] Hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."];
    private static readonly IReadOnlyList<string>[] Refs =
    [
        ["The dog bit the man.", "The dog had bit the man."],
        ["It was not unexpected.", "No one was surprised."],
        ["The man bit him first.", "The man had bitten the dog."],
    ];

    [Fact]
    public void CorpusBleuDefaultsMatchSacreBleu()
    {
        // test_corpus_bleu_cases: default (13a, exp) 48.530827; tokenize none 49.1919566; smooth none 48.530827; empty hypotheses 0.
        Assert.Equal(48.530827, Bleu.CorpusMulti(Hyps, Refs).Score, 1e-6);
        Assert.Equal(49.1919566, Bleu.CorpusMulti(Hyps, Refs, new BleuOptions { Tokenization = BleuTokenization.None }).Score, 1e-6);
        Assert.Equal(48.530827, Bleu.CorpusMulti(Hyps, Refs, new BleuOptions { Smoothing = BleuSmoothing.None }).Score, 1e-6);
        Assert.Equal(0.0, Bleu.CorpusMulti(["", "", ""], Refs).Score);
    }

    [Theory]
    [InlineData(1, "77.65")]
    [InlineData(2, "60.50")]
    [InlineData(3, "53.93")]
    [InlineData(4, "48.53")]
    [InlineData(5, "46.14")]
    [InlineData(6, "43.28")]
    public void MaxOrderMatchesSacreBleu(int order, string expected) =>
        // test_bleu_max_order
        Assert.Equal(expected, Bleu.CorpusMulti(Hyps, Refs, new BleuOptions { MaxOrder = order }).Score.ToString("F2", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public void StatisticsAndScoringMatchSacreBleu()
    {
        // test_case_statistics: raw_corpus_bleu (tokenize none, floor 0.01, effective order) counts and totals.
        var raw = new BleuOptions { Tokenization = BleuTokenization.None, Smoothing = BleuSmoothing.Floor, SmoothValue = 0.01, EffectiveOrder = true };
        var s = Bleu.Corpus(["am I am a character sequence"], ["I am a symbol string sequence a a"], raw);
        Assert.Equal([4L, 2, 1, 0], s.Counts);
        Assert.Equal([6L, 5, 4, 3], s.Totals);
        // test_case_offset: the same pair with the default floor 0.1 gives 0.1555722182, with floor 0 gives 0.
        Assert.Equal(0.1555722182, Bleu.Corpus(["am I am a character sequence"], ["I am a symbol string sequence a a"], raw with { SmoothValue = null }).Score / 100, 1e-8);
        Assert.Equal(0.0, Bleu.Corpus(["am I am a character sequence"], ["I am a symbol string sequence a a"], raw with { SmoothValue = 0 }).Score / 100, 1e-8);
        // test_case_scoring: compute_bleu([9,7,5,3], [10,8,6,4], 11, 11) without smoothing.
        Assert.Equal(0.8375922397, Bleu.FromStatistics([9, 7, 5, 3], [10, 8, 6, 4], 11, 11, new BleuOptions { Smoothing = BleuSmoothing.None }).Score / 100, 1e-8);
        // test_raw_bleu_cases and test_case_effective_order.
        Assert.Equal(0.0, Bleu.CorpusMulti(["this is a test", "another test"], [["ref1"], ["ref2"]], raw).Score);
        Assert.Equal(1.0, Bleu.Corpus(["this is a test"], ["this is a test"], raw).Score / 100, 1e-8);
        Assert.Equal(0.223606797749979, Bleu.Corpus(["this is a fest"], ["this is a test"], raw).Score / 100, 1e-8);
        Assert.Equal(0.3678794411714425, Bleu.Corpus(["test"], ["a test"], raw).Score / 100, 1e-8);
        Assert.Equal(0.03218297948685433, Bleu.Corpus(["a little test"], ["a test"], raw).Score / 100, 1e-8);
    }

    [Theory]
    // test_degenerate_statistics: (common, total, sys_len, ref_len, floor value) all give 0.
    [InlineData(new long[] { 0, 0, 0, 0 }, new long[] { 4, 4, 2, 1 }, 0, 1, 0.0)]
    [InlineData(new long[] { 0, 0, 0, 0 }, new long[] { 10, 11, 12, 0 }, 14, 10, 0.0)]
    [InlineData(new long[] { 0, 0, 0, 0 }, new long[] { 0, 0, 0, 0 }, 0, 0, 0.0)]
    [InlineData(new long[] { 6, 5, 4, 0 }, new long[] { 6, 5, 4, 3 }, 6, 6, 0.0)]
    [InlineData(new long[] { 0, 0, 0, 0 }, new long[] { 0, 0, 0, 0 }, 0, 0, 0.1)]
    [InlineData(new long[] { 0, 0, 0, 0 }, new long[] { 0, 0, 0, 0 }, 1, 5, 0.01)]
    public void DegenerateStatisticsGiveZero(long[] common, long[] total, long sys, long refLen, double floor) =>
        Assert.Equal(0.0, Bleu.FromStatistics(common, total, sys, refLen, new BleuOptions { Smoothing = BleuSmoothing.Floor, SmoothValue = floor }).Score);

    [Theory]
    // test_sentence_bleu.py (issue #98 example), sentence BLEU with effective order.
    [InlineData(BleuSmoothing.Exp, null, BleuTokenization.Mteval13a, 8.493)]
    [InlineData(BleuSmoothing.None, null, BleuTokenization.Mteval13a, 0.0)]
    [InlineData(BleuSmoothing.Floor, null, BleuTokenization.Mteval13a, 4.51688)]
    [InlineData(BleuSmoothing.Floor, 0.5, BleuTokenization.Mteval13a, 10.10)]
    [InlineData(BleuSmoothing.AddK, null, BleuTokenization.Mteval13a, 14.882)]
    [InlineData(BleuSmoothing.AddK, 2.0, BleuTokenization.Mteval13a, 21.389)]
    [InlineData(BleuSmoothing.Exp, null, BleuTokenization.None, 7.347)]
    public void SentenceBleuMatchesSacreBleu(BleuSmoothing smoothing, double? value, BleuTokenization tok, double expected)
    {
        const string reference = "producţia de zahăr brut se exprimă în zahăr alb;";
        const string system = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;";
        var o = new BleuOptions { Smoothing = smoothing, SmoothValue = value, Tokenization = tok, EffectiveOrder = true };
        Assert.Equal(expected, Bleu.Corpus([system], [reference], o).Score, 1e-3);
        // Issue #141: no match at all is 0 whatever the smoothing.
        Assert.Equal(0.0, Bleu.Corpus(["this is a cat"], ["okay thanks"], o with { Tokenization = BleuTokenization.Mteval13a }).Score, 1e-3);
    }

    [Theory]
    [InlineData("The dog bit the man.", "The dog bit the man .")]
    [InlineData("It wasn't surprising.", "It wasn't surprising .")]
    [InlineData("3.14, 1,000 and 5-4 (a/b) \"q\" &amp; x!", "3.14 , 1,000 and 5 - 4 ( a / b ) \" q \" & x !")]
    [InlineData("well-known  <skipped> end-\nline", "well-known endline")]
    public void Tokenizer13aSplitsAsMteval(string input, string expected) => Assert.Equal(expected, Tokenizer13a.Tokenize(input));

    [Theory]
    // test_chrf.py test_cases: char order 6, beta 3, eps smoothing.
    [InlineData(new[] { "abcdefg" }, new[] { "hijklmnop" }, 0.0)]
    [InlineData(new[] { "a" }, new[] { "b" }, 0.0)]
    [InlineData(new[] { "" }, new[] { "reference" }, 0.0)]
    [InlineData(new[] { "aa" }, new[] { "ab" }, 8.3333)]
    [InlineData(new[] { "a", "b" }, new[] { "a", "c" }, 8.3333)]
    [InlineData(new[] { "a" }, new[] { "a" }, 16.6667)]
    [InlineData(new[] { "a b c" }, new[] { "abc" }, 50.0)]
    [InlineData(new[] { " risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ." },
        new[] { "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ." }, 63.361730)]
    [InlineData(new[] { " Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. " },
        new[] { "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich." }, 64.1302698)]
    [InlineData(new[] { "Niemand hat die Absicht, eine Mauer zu errichten" }, new[] { "Niemand hat die Absicht, eine Mauer zu errichten" }, 100.0)]
    public void ChrFEpsSmoothingMatchesSacreBleu(string[] hyps, string[] refs, double expected) =>
        Assert.Equal(expected, ChrF.Corpus(hyps, refs, new ChrFOptions { Beta = 3, EpsSmoothing = true }), 1e-4);

    [Theory]
    // test_chrf.py test_cases_effective_order: beta 3, sacreBLEU's default averaging.
    [InlineData(new[] { "a" }, new[] { "a" }, 100.0)]
    [InlineData(new[] { "" }, new[] { "reference" }, 0.0)]
    [InlineData(new[] { "a b c" }, new[] { "abc" }, 100.0)]
    [InlineData(new[] { "a", "b" }, new[] { "a", "c" }, 50.0)]
    [InlineData(new[] { "aa" }, new[] { "ab" }, 25.0)]
    public void ChrFEffectiveOrderMatchesSacreBleu(string[] hyps, string[] refs, double expected) =>
        Assert.Equal(expected, ChrF.Corpus(hyps, refs, new ChrFOptions { Beta = 3 }), 1e-4);

    [Fact]
    public void ChrFKeepingWhitespaceAndSentenceLevelMatchSacreBleu()
    {
        // test_cases_keep_whitespace (beta 3, remove_whitespace=False).
        Assert.Equal(67.3481606, ChrF.Corpus(["Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."],
            ["Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."], new ChrFOptions { Beta = 3, Whitespace = true }), 1e-4);
        // test_sentence_level_chrf: chrF2 with eps smoothing.
        var o = new ChrFOptions { EpsSmoothing = true };
        Assert.Equal(39.14078509, ChrF.CorpusMulti(["Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře."],
            [["Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře."]], o), 1e-4);
        Assert.Equal(57.15704367, ChrF.CorpusMulti(["Lapali po dechu, jejich životy skončily dřív, než skutečně začaly."],
            [["Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli."]], o), 1e-4);
    }

    [Fact]
    public void ExactMatchComparesTheTokensBleuCounts()
    {
        Assert.Equal(50.0, ExactMatch.Percent(["i'm happy .", "he s here"], ["i'm happy.", "he is here"]));
        Assert.Equal(0.0, ExactMatch.Percent(["I'm happy."], ["i'm happy."]));
        Assert.Equal(100.0, ExactMatch.Percent(["I'm happy."], ["i'm happy."], lowercase: true));
    }
}
