using Recur.Models.Decoding;
using Recur.Tensors;

namespace Recur.Tests.Models;

/// <summary>
/// CTC decoding against an exhaustive oracle: for small T every one of the C^T alignments is enumerated, collapsed
/// (repeats merged, blanks dropped) and its probability added to its labelling, so the most probable labelling (and,
/// under a constraint, the most probable allowed one) is known exactly.
/// </summary>
public class CtcDecodingTests
{
    /// <summary>
    /// log p(labelling | x) of every labelling with p > 0, by enumerating all alignments, each frame's scores
    /// normalised by a log-softmax in float64 first (as the decoders define them).
    /// </summary>
    private static Dictionary<string, double> Enumerate(float[] scores, int classes)
    {
        int frames = scores.Length / classes;
        var logProbs = new double[scores.Length];
        for (int f = 0; f < frames; f++)
        {
            double lse = Math.Log(Enumerable.Range(0, classes).Sum(k => Math.Exp(scores[f * classes + k])));
            for (int k = 0; k < classes; k++) logProbs[f * classes + k] = scores[f * classes + k] - lse;
        }
        var sums = new Dictionary<string, double>();
        var path = new int[frames];
        long count = (long)Math.Pow(classes, frames);
        for (long code = 0; code < count; code++)
        {
            long r = code;
            double lp = 0;
            for (int f = 0; f < frames; f++) { path[f] = (int)(r % classes); r /= classes; lp += logProbs[f * classes + path[f]]; }
            var labels = new List<int>();
            for (int f = 0; f < frames; f++)
                if (path[f] != 0 && (f == 0 || path[f] != path[f - 1])) labels.Add(path[f]);
            string key = string.Join(",", labels);
            sums[key] = sums.GetValueOrDefault(key) + Math.Exp(lp);
        }
        return sums.ToDictionary(kv => kv.Key, kv => Math.Log(kv.Value));
    }

    private static string Key(int[] labels) => string.Join(",", labels);

    private static int[] Parse(string key) => key.Length == 0 ? [] : key.Split(',').Select(int.Parse).ToArray();

    /// <summary>Random frames as log-probabilities (rows normalised in float64, stored as float32), seeded.</summary>
    private static float[] RandomLogProbs(ulong seed, int frames, int classes, double scale = 1.5)
    {
        var rng = new Rng(seed);
        var x = new float[frames * classes];
        for (int f = 0; f < frames; f++)
        {
            var row = new double[classes];
            for (int k = 0; k < classes; k++) row[k] = scale * rng.NextNormal();
            double lse = Math.Log(row.Sum(Math.Exp));
            for (int k = 0; k < classes; k++) x[f * classes + k] = (float)(row[k] - lse);
        }
        return x;
    }

    private static float[] Probabilities(double[][] rows) => rows.SelectMany(r => r.Select(p => (float)Math.Log(p))).ToArray();

    [Fact]
    public void Greedy_takes_each_frames_best_class_then_merges_repeats_and_drops_blanks()
    {
        // frames: a a - a b b (a = 1, b = 2, - = blank)
        int[] best = [1, 1, 0, 1, 2, 2];
        var scores = new float[best.Length * 3];
        for (int f = 0; f < best.Length; f++)
            for (int k = 0; k < 3; k++) scores[f * 3 + k] = k == best[f] ? 2f : -1f;
        Assert.Equal([1, 1, 2], CtcGreedyDecoder.Decode(scores, 3));
        var h = CtcGreedyDecoder.DecodeWithScore(scores, 3);
        double perFrame = 2 - Math.Log(Math.Exp(2) + 2 * Math.Exp(-1));
        Assert.Equal(6 * perFrame, h.LogProbability, 5);
        Assert.Equal([], CtcGreedyDecoder.Decode(new float[] { 5, 1, 1, 5, 1, 1 }, 3));
    }

    [Fact]
    public void Greedy_and_beam_disagree_where_the_best_path_is_not_the_best_labelling()
    {
        // Two frames, p(blank) = 0.6, p(a) = 0.4 each. Best path: blank blank, "" with 0.36.
        // Labelling "a": a a (0.16) + a blank (0.24) + blank a (0.24) = 0.64.
        var scores = Probabilities([[0.6, 0.4], [0.6, 0.4]]);
        Assert.Equal([], CtcGreedyDecoder.Decode(scores, 2));
        var results = new CtcPrefixBeamSearch(4).Decode(scores, 2);
        Assert.Equal([1], results[0].Labels);
        Assert.Equal(Math.Log(0.64), results[0].LogProbability, 6);
        Assert.Equal([], results[1].Labels);
        Assert.Equal(Math.Log(0.36), results[1].LogProbability, 6);
    }

    [Theory]
    [InlineData(1UL, 5, 3)]
    [InlineData(2UL, 6, 3)]
    [InlineData(3UL, 4, 4)]
    [InlineData(4UL, 5, 4)]
    [InlineData(5UL, 7, 2)]
    public void A_wide_beam_finds_the_most_probable_labelling_and_its_exact_probability(ulong seed, int frames, int classes)
    {
        var x = RandomLogProbs(seed, frames, classes);
        var oracle = Enumerate(x, classes);
        // wide enough never to prune: the search is then exact for every prefix it returns
        var results = new CtcPrefixBeamSearch(100_000).Decode(x, classes);
        var ranked = oracle.OrderByDescending(kv => kv.Value).ToList();
        Assert.Equal(ranked[0].Key, Key(results[0].Labels));
        Assert.Equal(ranked[0].Value, results[0].LogProbability, 9);
        foreach (var h in results) Assert.Equal(oracle[Key(h.Labels)], h.LogProbability, 9);
        Assert.Equal(oracle.Count, results.Count);
    }

    [Fact]
    public void A_narrow_beam_keeps_the_best_labelling_on_a_peaked_matrix()
    {
        var x = RandomLogProbs(9, 7, 3, scale: 4);
        var oracle = Enumerate(x, 3);
        Assert.Equal(oracle.MaxBy(kv => kv.Value).Key, Key(new CtcPrefixBeamSearch(3).DecodeBest(x, 3)));
    }

    [Fact]
    public void A_transcript_list_forces_a_different_answer_the_best_allowed_one()
    {
        var x = RandomLogProbs(11, 6, 4);
        var oracle = Enumerate(x, 4);
        string best = oracle.MaxBy(kv => kv.Value).Key;
        // allow three labellings the oracle knows, none of them the unconstrained best
        var allowed = oracle.Where(kv => kv.Key != best && kv.Key.Length > 0).OrderByDescending(kv => kv.Value)
            .Skip(2).Take(3).Select(kv => Parse(kv.Key)).ToList();
        var constraint = CtcConstraint.Transcripts(allowed);
        var results = new CtcPrefixBeamSearch(100_000, constraint).Decode(x, 4);
        string expected = allowed.Select(Key).MaxBy(k => oracle[k])!;
        Assert.NotEqual(best, expected);
        Assert.Equal(expected, Key(results[0].Labels));
        Assert.Equal(oracle[expected], results[0].LogProbability, 9);
        Assert.Equal(3, results.Count);
        Assert.All(results, h => Assert.True(constraint.Accepts(h.Labels)));
        Assert.Equal(best, Key(new CtcPrefixBeamSearch(100_000).DecodeBest(x, 4)));
    }

    [Fact]
    public void Digit_strings_of_given_lengths_give_the_best_labelling_of_an_allowed_length()
    {
        // digits are labels 1..3; a matrix favouring short outputs
        var x = RandomLogProbs(12, 7, 4);
        for (int f = 0; f < 7; f++) x[f * 4] += 3f;
        var oracle = Enumerate(x, 4);
        var constraint = CtcConstraint.DigitStrings([1, 2, 3], 3, 4);
        string expected = oracle.Where(kv => Parse(kv.Key).Length is >= 3 and <= 4).MaxBy(kv => kv.Value).Key;
        string unconstrained = oracle.MaxBy(kv => kv.Value).Key;
        Assert.True(Parse(unconstrained).Length < 3, $"the case should favour short outputs, best is [{unconstrained}]");
        var results = new CtcPrefixBeamSearch(100_000, constraint).Decode(x, 4);
        Assert.Equal(expected, Key(results[0].Labels));
        Assert.Equal(oracle[expected], results[0].LogProbability, 9);
    }

    [Fact]
    public void Constraints_accept_exactly_their_language()
    {
        var digits = CtcConstraint.DigitStrings([1, 2, 3], 2, 3, separator: 9);
        Assert.True(digits.Accepts([1, 9, 2]));
        Assert.True(digits.Accepts([3, 9, 3, 9, 1]));
        Assert.False(digits.Accepts([1]));
        Assert.False(digits.Accepts([1, 2]));            // separator required
        Assert.False(digits.Accepts([1, 9, 2, 9]));      // no trailing separator
        Assert.False(digits.Accepts([1, 9, 2, 9, 3, 9, 1]));
        var plain = CtcConstraint.DigitStrings([1, 2], 1, 2);
        Assert.True(plain.Accepts([2, 2]));
        Assert.False(plain.Accepts([]));
        Assert.False(plain.Accepts([1, 1, 1]));

        int Label(char ch) => ch == ' ' ? 9 : ch - 'a' + 1;
        var words = CtcConstraint.Words(["go", "stop", "left"], Label);
        Assert.True(words.Accepts([.. "go left".Select(Label)]));
        Assert.True(words.Accepts([.. "stop".Select(Label)]));
        Assert.False(words.Accepts([.. "go  left".Select(Label)]));
        Assert.False(words.Accepts([.. "go lef".Select(Label)]));
        Assert.False(words.Accepts([.. " go".Select(Label)]));

        var commands = CtcConstraint.Transcripts(["go", "go left"], Label);
        Assert.True(commands.Accepts([.. "go left".Select(Label)]));
        Assert.False(commands.Accepts([.. "left".Select(Label)]));

        var either = CtcConstraint.Union(commands, CtcConstraint.DigitStrings([20, 21], 1, 1));
        Assert.True(either.Accepts([.. "go".Select(Label)]));
        Assert.True(either.Accepts([21]));
        Assert.False(either.Accepts([21, 20]));
        Assert.False(either.Accepts([.. "stop".Select(Label)]));
    }

    [Fact]
    public void With_a_constraint_and_too_few_frames_no_hypothesis_is_complete()
    {
        var x = RandomLogProbs(13, 2, 4);
        var search = new CtcPrefixBeamSearch(10, CtcConstraint.DigitStrings([1, 2, 3], 3, 3));
        Assert.Empty(search.Decode(x, 4));
        Assert.Equal([], search.DecodeBest(x, 4));
    }

    [Fact]
    public void Frames_fed_in_chunks_give_exactly_the_offline_result()
    {
        var x = RandomLogProbs(14, 40, 5);
        var search = new CtcPrefixBeamSearch(4, CtcConstraint.DigitStrings([1, 2, 3, 4], 1, 12));
        var offline = search.Decode(x, 5);
        var state = search.Begin(5);
        int[] chunks = [1, 7, 0, 13, 19];
        int at = 0;
        var partials = new List<string>();
        foreach (int k in chunks)
        {
            state.Advance(x.AsSpan(at * 5, k * 5));
            at += k;
            partials.Add(Key(state.Best.Labels));
        }
        Assert.Equal(40, state.Frames);
        var streamed = state.Finish();
        Assert.Equal(offline.Count, streamed.Count);
        for (int i = 0; i < offline.Count; i++)
        {
            Assert.Equal(offline[i].Labels, streamed[i].Labels);
            Assert.Equal(offline[i].LogProbability, streamed[i].LogProbability);
        }
        Assert.Throws<InvalidOperationException>(() => state.Advance(x.AsSpan(0, 5)));
    }

    [Fact]
    public void Logits_and_log_probabilities_decode_alike()
    {
        var x = RandomLogProbs(15, 8, 4);
        var logits = x.Select((v, i) => v + 3f * (i / 4)).ToArray();   // a different constant per frame
        var a = new CtcPrefixBeamSearch(8).Decode(x, 4);
        var b = new CtcPrefixBeamSearch(8).Decode(logits, 4);
        Assert.Equal(a.Select(h => Key(h.Labels)), b.Select(h => Key(h.Labels)));
        Assert.Equal(a[0].LogProbability, b[0].LogProbability, 5);
        Assert.Equal(CtcGreedyDecoder.Decode(x, 4), CtcGreedyDecoder.Decode(logits, 4));
    }

    [Fact]
    public void Bad_arguments_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CtcPrefixBeamSearch(0));
        Assert.Contains("multiple of classes = 3", Assert.Throws<ArgumentException>(() => new CtcPrefixBeamSearch(2).Decode(new float[4], 3)).Message);
        Assert.Contains("NaN", Assert.Throws<ArgumentException>(() => CtcGreedyDecoder.Decode(new[] { 0f, float.NaN }, 2)).Message);
        Assert.Contains("0 is the blank", Assert.Throws<ArgumentOutOfRangeException>(() => CtcConstraint.Transcripts([new[] { 1, 0 }])).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => CtcConstraint.DigitStrings([1, 2], 3, 2));
    }
}
