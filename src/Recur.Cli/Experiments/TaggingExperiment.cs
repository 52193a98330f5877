using System.Diagnostics;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// Part-of-speech tagging on a generated corpus (a tiny grammar with ambiguous words), written to and read back from
/// CoNLL files: a bidirectional LSTM tagger, token accuracy overall and on the ambiguous words.
/// </summary>
internal static class TaggingExperiment
{
    public sealed record Options(string WorkDir, ulong Seed = 42, int Sentences = 3000, int Epochs = 8, int Hidden = 64);

    public sealed record Result(double TestAccuracy, double AmbiguousAccuracy, double MajorityBaseline, int AmbiguousTokens, TimeSpan Time);

    private static readonly HashSet<string> Ambiguous = ["book", "watch", "run", "play", "fly", "light", "fast"];

    public static Result Run(Options o, bool verbose = true)
    {
        var corpus = Synthetic.TaggingCorpus(o.Sentences, new Rng(o.Seed));
        var (trainIdx, rest) = Batching.Split(corpus.Count, 0.8, new Rng(o.Seed + 1));
        var validIdx = rest[..(rest.Length / 2)];
        var testIdx = rest[(rest.Length / 2)..];
        Directory.CreateDirectory(o.WorkDir);
        string trainPath = Path.Combine(o.WorkDir, "train.conll"), testPath = Path.Combine(o.WorkDir, "test.conll");
        WriteConll(trainPath, trainIdx.Select(i => corpus[i]));
        WriteConll(testPath, validIdx.Concat(testIdx).Select(i => corpus[i]));
        var train = Readers.ReadConll(trainPath);
        var heldOut = Readers.ReadConll(testPath);
        var valid = heldOut.Take(validIdx.Length).ToList();
        var test = heldOut.Skip(validIdx.Length).ToList();

        var words = WordTokenizer.Build(train.Select(s => string.Join(' ', s.Tokens)), lowercase: false);
        var tagIndex = Synthetic.Tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i);
        int[] Encode(TaggedSentence s) => s.Tokens.Select(words.Vocabulary.Id).ToArray();
        var trainX = train.Select(Encode).ToList();
        var trainY = train.Select(s => s.Tags.Select(t => tagIndex[t]).ToArray()).ToList();
        if (verbose) Console.WriteLine($"tagging: {o.Sentences} generated sentences as CoNLL ({trainPath}), train {train.Count} / validation {valid.Count} / test {test.Count}, {words.Vocabulary.Count} words, {tagIndex.Count} tags");

        var model = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = words.Vocabulary.Count, EmbeddingDim = 32, HiddenSize = o.Hidden, Bidirectional = true, Dropout = 0.2f },
            Tags = tagIndex.Count,
        }, new Rng(o.Seed + 2));
        SequenceBatch Batch(IReadOnlyList<int[]> x, IReadOnlyList<int[]> y, int[] idx)
        {
            var b = SequenceBatch.FromTokens(x, idx);
            return new SequenceBatch { Tokens = b.Tokens, Lengths = b.Lengths, Steps = b.Steps, Targets = SequenceTagger.PadTargets(y, idx, b.Steps) };
        }
        var batchRng = new Rng(o.Seed + 3);
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 3e-3f), new TrainerOptions { Epochs = o.Epochs, LogEvery = 50 });
        if (verbose) ProgressPrinter.Attach(trainer);
        var clock = Stopwatch.StartNew();
        trainer.Fit(model, _ => Batching.Batches(trainX.Select(x => x.Length).ToArray(), 32, batchRng)
                .Select(b => Batch(trainX, trainY, b)),
            () => new Evaluation("accuracy", Accuracy(model, valid, Encode, tagIndex).All, true));
        var time = clock.Elapsed;
        var (all, amb, ambCount) = Accuracy(model, test, Encode, tagIndex);

        // Majority baseline: each word's most frequent tag in training (unknown words: NOUN).
        var majority = train.SelectMany(s => s.Tokens.Zip(s.Tags)).GroupBy(p => p.First)
            .ToDictionary(g => g.Key, g => g.GroupBy(p => p.Second).OrderByDescending(h => h.Count()).ThenBy(h => h.Key, StringComparer.Ordinal).First().Key);
        var testPairs = test.SelectMany(s => s.Tokens.Zip(s.Tags)).ToList();
        double baseline = testPairs.Count(p => majority.GetValueOrDefault(p.First, "NOUN") == p.Second) / (double)testPairs.Count;
        if (verbose)
            Console.WriteLine($"test token accuracy: BiLSTM {all:P2}, on the {ambCount} ambiguous tokens {amb:P2}; most-frequent-tag baseline {baseline:P2} ({ProgressPrinter.Format(time)})");
        return new Result(all, amb, baseline, ambCount, time);
    }

    private static (double All, double Ambiguous, int AmbiguousCount) Accuracy(SequenceTagger model, List<TaggedSentence> data,
        Func<TaggedSentence, int[]> encode, Dictionary<string, int> tagIndex)
    {
        using var mode = model.EvaluationMode();
        int ok = 0, n = 0, ambOk = 0, ambN = 0;
        var x = data.Select(encode).ToList();
        for (int start = 0; start < data.Count; start += 256)
        {
            var idx = Enumerable.Range(start, Math.Min(256, data.Count - start)).ToArray();
            var pred = model.PredictTags(SequenceBatch.FromTokens(x, idx));
            for (int k = 0; k < idx.Length; k++)
            {
                var s = data[idx[k]];
                for (int t = 0; t < s.Tokens.Length; t++)
                {
                    bool right = pred[k][t] == tagIndex[s.Tags[t]];
                    n++;
                    if (right) ok++;
                    if (Ambiguous.Contains(s.Tokens[t])) { ambN++; if (right) ambOk++; }
                }
            }
        }
        return ((double)ok / n, ambN == 0 ? double.NaN : (double)ambOk / ambN, ambN);
    }

    private static void WriteConll(string path, IEnumerable<TaggedSentence> sentences) =>
        Recur.AtomicFile.Write(path, fs =>
        {
            using var w = new StreamWriter(fs, new System.Text.UTF8Encoding(false), leaveOpen: true) { NewLine = "\n" };
            foreach (var s in sentences)
            {
                for (int i = 0; i < s.Tokens.Length; i++) w.WriteLine($"{s.Tokens[i]} {s.Tags[i]}");
                w.WriteLine();
            }
        });
}
