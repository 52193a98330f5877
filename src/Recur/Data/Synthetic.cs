using Recur.Tensors;

namespace Recur.Data;

/// <summary>
/// Generated datasets, seeded and deterministic: a part-of-speech tagging corpus from a tiny grammar, and memory
/// tasks that separate recurrent networks from feed-forward ones.
/// </summary>
public static class Synthetic
{
    private static readonly Dictionary<string, string[]> Words = new()
    {
        ["DET"] = ["the", "a", "every", "this", "that", "my", "your"],
        ["ADJ"] = ["small", "red", "quiet", "old", "bright", "light", "fast", "happy"],
        ["NOUN"] = ["dog", "river", "book", "watch", "light", "city", "teacher", "run", "play", "fly", "garden", "song"],
        ["VERB"] = ["sees", "finds", "book", "watch", "run", "play", "fly", "likes", "keeps", "opens"],
        ["ADV"] = ["quickly", "often", "fast", "never", "slowly", "well"],
        ["PREP"] = ["near", "under", "with", "behind", "over"],
        ["PRON"] = ["she", "he", "they", "we", "it"],
        ["CONJ"] = ["and", "but"],
        ["PUNCT"] = [".", "!"],
    };

    /// <summary>The tag set of <see cref="TaggingCorpus"/>.</summary>
    public static IReadOnlyList<string> Tags { get; } = ["DET", "ADJ", "NOUN", "VERB", "ADV", "PREP", "PRON", "CONJ", "PUNCT"];

    /// <summary>
    /// Sentences from a small grammar (S -&gt; NP VP [CONJ VP] PUNCT, NP -&gt; PRON | DET ADJ* NOUN [PREP NP], VP -&gt; VERB NP |
    /// VERB ADV | VERB PREP NP) with words that are ambiguous out of context: "book", "watch", "run", "play", "fly"
    /// are nouns or verbs, "light" a noun or adjective, "fast" an adjective or adverb. Tagging them right needs the
    /// words around them.
    /// </summary>
    public static List<TaggedSentence> TaggingCorpus(int sentences, Rng rng)
    {
        var result = new List<TaggedSentence>(sentences);
        for (int s = 0; s < sentences; s++)
        {
            var tokens = new List<string>();
            var tags = new List<string>();
            void Add(string tag)
            {
                var options = Words[tag];
                tokens.Add(options[rng.NextInt(options.Length)]);
                tags.Add(tag);
            }
            void NounPhrase(int depth)
            {
                if (rng.NextInt(4) == 0) { Add("PRON"); return; }
                Add("DET");
                int adjectives = rng.NextInt(3);
                for (int i = 0; i < adjectives; i++) Add("ADJ");
                Add("NOUN");
                if (depth < 1 && rng.NextInt(4) == 0) { Add("PREP"); NounPhrase(depth + 1); }
            }
            void VerbPhrase()
            {
                Add("VERB");
                switch (rng.NextInt(3))
                {
                    case 0: NounPhrase(0); break;
                    case 1: Add("ADV"); break;
                    default: Add("PREP"); NounPhrase(1); break;
                }
            }
            NounPhrase(0);
            VerbPhrase();
            if (rng.NextInt(3) == 0) { Add("CONJ"); VerbPhrase(); }
            Add("PUNCT");
            result.Add(new TaggedSentence([.. tokens], [.. tags], s + 1));
        }
        return result;
    }

    /// <summary>
    /// Delayed echo: random symbols in [0, symbols); the target at step t is the input at step t - delay
    /// (-100, ignored, for the first <paramref name="delay"/> steps). A one-to-one feed-forward model that sees only
    /// the current input cannot do better than chance; a recurrent model has to remember the last steps.
    /// </summary>
    public static (int[][] Inputs, int[][] Targets) DelayedEcho(int sequences, int length, int symbols, int delay, Rng rng)
    {
        var x = new int[sequences][];
        var y = new int[sequences][];
        for (int s = 0; s < sequences; s++)
        {
            x[s] = new int[length];
            y[s] = new int[length];
            for (int t = 0; t < length; t++) x[s][t] = rng.NextInt(symbols);
            for (int t = 0; t < length; t++) y[s][t] = t < delay ? -100 : x[s][t - delay];
        }
        return (x, y);
    }

    /// <summary>
    /// Order task: each sequence of noise symbols (ids 2..symbols-1) holds one A (id 0) and one B (id 1) at random
    /// positions; the label is 1 when A comes before B. The bag of symbols is the same for both labels, so a model
    /// of the unordered counts is at chance; telling them apart needs the order.
    /// </summary>
    public static (int[][] Inputs, int[] Labels) OrderTask(int sequences, int length, int symbols, Rng rng)
    {
        if (length < 2 || symbols < 3) throw new ArgumentOutOfRangeException(nameof(length), "need length >= 2 and symbols >= 3");
        var x = new int[sequences][];
        var y = new int[sequences];
        for (int s = 0; s < sequences; s++)
        {
            x[s] = new int[length];
            for (int t = 0; t < length; t++) x[s][t] = 2 + rng.NextInt(symbols - 2);
            int a = rng.NextInt(length), b;
            do b = rng.NextInt(length); while (b == a);
            x[s][a] = 0;
            x[s][b] = 1;
            y[s] = a < b ? 1 : 0;
        }
        return (x, y);
    }

    /// <summary>
    /// The adding problem (Hochreiter and Schmidhuber 1997): each step carries a value from U(0, 1) and a marker;
    /// exactly two steps are marked, one in the first half and one in the second; the target is the sum of the two
    /// marked values. Inputs are (T, 2) per sequence: [value, marker]. Predicting the mean (1) scores an MSE of 1/6.
    /// </summary>
    public static (float[][] Inputs, float[] Targets) AddingProblem(int sequences, int length, Rng rng)
    {
        if (length < 2) throw new ArgumentOutOfRangeException(nameof(length), length, "length must be >= 2");
        var x = new float[sequences][];
        var y = new float[sequences];
        for (int s = 0; s < sequences; s++)
        {
            x[s] = new float[length * 2];
            for (int t = 0; t < length; t++) x[s][2 * t] = rng.NextFloat();
            int a = rng.NextInt(length / 2), b = length / 2 + rng.NextInt(length - length / 2);
            x[s][2 * a + 1] = 1f;
            x[s][2 * b + 1] = 1f;
            y[s] = x[s][2 * a] + x[s][2 * b];
        }
        return (x, y);
    }

    /// <summary>
    /// The copy task (Hochreiter and Schmidhuber 1997; Arjovsky et al. 2016): <paramref name="symbols"/> random
    /// symbols from 1..8, then <paramref name="delay"/> - 1 blanks (0), a delimiter (9), and as many blanks as
    /// symbols; the target is blank everywhere except the last steps, which must reproduce the symbols. Length
    /// delay + 2 * symbols. A model without memory can only output blanks (baseline cross-entropy
    /// symbols * ln 8 / length).
    /// </summary>
    public static (int[][] Inputs, int[][] Targets) CopyTask(int sequences, int symbols, int delay, Rng rng)
    {
        if (symbols < 1 || delay < 1) throw new ArgumentOutOfRangeException(nameof(delay), "need symbols >= 1 and delay >= 1");
        int length = delay + 2 * symbols;
        var x = new int[sequences][];
        var y = new int[sequences][];
        for (int s = 0; s < sequences; s++)
        {
            x[s] = new int[length];
            y[s] = new int[length];
            for (int i = 0; i < symbols; i++)
            {
                int v = 1 + rng.NextInt(8);
                x[s][i] = v;
                y[s][length - symbols + i] = v;
            }
            x[s][symbols + delay - 1] = 9;
        }
        return (x, y);
    }
}
