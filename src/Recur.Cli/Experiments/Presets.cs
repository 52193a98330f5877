using System.Globalization;
using System.Text;
using Recur.Cli.Train;

namespace Recur.Cli.Experiments;

/// <summary>
/// The documented experiments (docs/results.md) as presets of <c>recur train</c>: experiment name → task, options and
/// data. Each preset writes its split of the shared data as files, trains through the train command, then runs its
/// baseline (<see cref="Baselines"/>) on the same split and prints the comparison.
/// </summary>
internal static class Presets
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static readonly Preset Sentiment = new("sentiment", "BiLSTM vs bag-of-words on the UCI sentiment sentences (80/20 split)", "classify",
        new Dictionary<string, string>
        {
            ["text-column"] = "0", ["label-column"] = "1", ["valid-fraction"] = "0.1", ["embedding"] = "100", ["hidden"] = "64", ["bidirectional"] = "true",
            ["dropout"] = "0.4", ["word-dropout"] = "0.3", ["embedding-dropout"] = "0.1", ["pooling"] = "max", ["lr"] = "0.002", ["batch-size"] = "32", ["epochs"] = "20",
            ["patience"] = "5", ["clip-norm"] = "0", ["log-every"] = "25",
        },
        PrepareSentiment, Baselines.BagOfWords);

    public static readonly Preset CharLm = new("char-lm", "Character LSTM language model on tiny-shakespeare (90/10 split)", "lm",
        new Dictionary<string, string>
        {
            ["tokenizer"] = "char", ["valid-fraction"] = "0.1", ["layers"] = "2", ["hidden"] = "256", ["embedding"] = "64", ["dropout"] = "0.2",
            ["batch-size"] = "32", ["bptt"] = "100", ["lr"] = "0.002", ["schedule"] = "cosine", ["warmup"] = "200", ["clip-norm"] = "5", ["epochs"] = "20", ["log-every"] = "50",
        },
        PrepareCharLm, Baselines.Samples);

    public static readonly Preset Tagging = new("tagging", "BiLSTM part-of-speech tagger on a generated corpus read from CoNLL files", "tag",
        new Dictionary<string, string>
        {
            ["embedding"] = "32", ["hidden"] = "64", ["bidirectional"] = "true", ["dropout"] = "0.2", ["lr"] = "0.003", ["batch-size"] = "32", ["epochs"] = "8",
            ["clip-norm"] = "0", ["log-every"] = "50",
        },
        PrepareTagging, Baselines.MostFrequentTag);

    public static readonly Preset Translation = new("translation", "Attention encoder-decoder, French to English on the Tatoeba pairs (tutorial filter), BLEU greedy and beam", "seq2seq",
        new Dictionary<string, string>
        {
            ["source-column"] = "0", ["target-column"] = "1", ["lowercase"] = "false", ["valid-fraction"] = "0.05", ["embedding"] = "128", ["hidden"] = "128",
            ["bidirectional"] = "true", ["dropout"] = "0.2", ["lr"] = "0.002", ["clip-norm"] = "5", ["batch-size"] = "64", ["epochs"] = "20", ["beam"] = "5",
            ["max-target-length"] = "20", ["log-every"] = "50",
        },
        PrepareTranslation, Baselines.Translation);

    public static readonly Preset Speech = new("speech", "Spoken digits (FSDD): MFCC frames and a bidirectional GRU, official take-based split", "audio",
        new Dictionary<string, string>
        {
            ["valid-fraction"] = "0.1", ["mfcc"] = "13", ["mel-bands"] = "40", ["cell"] = "gru", ["hidden"] = "64", ["layers"] = "2", ["bidirectional"] = "true",
            ["dropout"] = "0.2", ["pooling"] = "mean", ["lr"] = "0.002", ["schedule"] = "cosine", ["warmup"] = "50", ["batch-size"] = "32", ["epochs"] = "30",
            ["patience"] = "8", ["clip-norm"] = "5", ["log-every"] = "50",
        },
        PrepareSpeech, Baselines.Confusion);

    public static readonly Preset Music = new("music", "Piano-roll generator on generated scales and arpeggios, four (key, mode) combinations held out; writes MIDI", "music",
        new Dictionary<string, string>
        {
            ["hidden"] = "128", ["lr"] = "0.01", ["batch-size"] = "32", ["epochs"] = "800", ["clip-norm"] = "0", ["log-every"] = "100",
        },
        PrepareMusic, Baselines.UntrainedMusic);

    /// <summary>
    /// A word LM at the scale of Zaremba et al. 2014's small model (2x200 LSTM, 10k vocabulary, bptt 20, batch 20, clip
    /// 5) on the English side of the eng-fra pairs, read by the book (--tokenizer ptb). The recipe is Adam with tied
    /// embeddings and a cosine schedule over a single epoch, against the paper's 13 SGD epochs (docs/results.md).
    /// </summary>
    public static readonly Preset WordLm = new("word-lm", "Word-level LSTM language model (2x200, 10k vocabulary) on the English side of the eng-fra pairs, PTB-style files, test perplexity", "lm",
        new Dictionary<string, string>
        {
            ["tokenizer"] = "ptb", ["layers"] = "2", ["hidden"] = "200", ["embedding"] = "200", ["tie-embeddings"] = "true", ["bptt"] = "20", ["batch-size"] = "20",
            ["optimizer"] = "adam", ["lr"] = "0.003", ["schedule"] = "cosine", ["warmup"] = "100", ["clip-norm"] = "5", ["epochs"] = "5", ["log-every"] = "200",
        },
        PrepareWordLm);

    /// <summary>
    /// The English sentences of the eng-fra pairs as PTB-style files (train/valid/test.txt): lower-cased, split into
    /// words and punctuation marks, spaces between tokens, one distinct sentence per line (a sentence with several
    /// French translations appears once, so no test sentence is also a training sentence), a seeded 90/5/5 split, and
    /// the 9,998 most frequent training words kept: every other word is written as &lt;unk&gt; (10k types with &lt;unk&gt;
    /// and &lt;eos&gt;).
    /// </summary>
    private static IReadOnlyDictionary<string, string> PrepareWordLm(PresetRun r)
    {
        const int Kept = 9_998;
        var raw = TranslationData.ReadTsv(r.Shared("eng-fra", "fra.txt.gz"));
        var sentences = raw.Select(p => string.Join(' ', WordTokenizer.Split(p.Source, lowercase: true))).Where(l => l.Length > 0)
                           .Distinct(StringComparer.Ordinal).ToList();
        var (train, rest) = Batching.Split(sentences.Count, 0.9, new Rng(r.Seed));
        var valid = rest[..(rest.Length / 2)];
        var test = rest[(rest.Length / 2)..];
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (int i in train) foreach (var w in sentences[i].Split(' ')) counts[w] = counts.GetValueOrDefault(w) + 1;
        var kept = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(Kept).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
        var parts = new Dictionary<string, string>();
        var summary = new List<string>();
        foreach (var (key, file, idx) in new[] { ("data", "train.txt", train), ("valid", "valid.txt", valid), ("test", "test.txt", test) })
        {
            long words = 0, unknown = 0;
            var lines = idx.Select(i => string.Join(' ', sentences[i].Split(' ').Select(w =>
            {
                words++;
                if (kept.Contains(w)) return w;
                unknown++;
                return Vocabulary.Unk;
            }))).ToList();
            string path = r.Data(file);
            WriteLines(path, lines);
            parts[key] = path;
            summary.Add(string.Create(Inv, $"{file} {lines.Count} sentences, {words + lines.Count} tokens with <eos> ({(double)unknown / words:P1} of words <unk>)"));
        }
        Console.WriteLine($"word-lm: {raw.Count} pairs, {sentences.Count} distinct English sentences, {counts.Count} training word types, {kept.Count} kept + <unk> + <eos>; " +
                          $"{string.Join("; ", summary)} (seed {r.Seed}) -> {r.DataDir}");
        return parts;
    }

    /// <summary>A forecast preset per shared series: file, column, window and season.</summary>
    public static Preset Forecast(string series)
    {
        var (file, column, window, season) = series switch
        {
            "airline" => ("airline-passengers.csv", "Passengers", 12, 12),
            "sunspots" => ("sunspots.csv", "SUNACTIVITY", 22, 11),
            "co2" => ("co2.csv", "co2", 52, 52),
            _ => throw new ArgumentException($"series: expected airline, sunspots or co2, found '{series}'"),
        };
        return new Preset("forecast-" + series, "LSTM forecaster vs naive, seasonal-naive and mean forecasts on a shared series (last third as test), mean ± sd over 5 seeds", "forecast",
            new Dictionary<string, string>
            {
                ["column"] = column, ["window"] = window.ToString(Inv), ["season"] = season.ToString(Inv), ["difference"] = "true", ["test-fraction"] = "0.33",
                ["hidden"] = "32", ["lr"] = "0.005", ["batch-size"] = "16", ["epochs"] = "200", ["patience"] = "40", ["clip-norm"] = "1", ["log-every"] = "1000",
                ["seeds"] = "5",
            },
            r => new Dictionary<string, string> { ["data"] = r.Shared("timeseries", file) }, Baselines.Naive);
    }

    /// <summary>yelp + amazon + imdb, a seeded 80/20 split written as train.tsv and test.tsv (text TAB label).</summary>
    private static IReadOnlyDictionary<string, string> PrepareSentiment(PresetRun r)
    {
        var examples = new List<LabeledText>();
        foreach (var f in new[] { "yelp_labelled.txt", "amazon_cells_labelled.txt", "imdb_labelled.txt" })
        {
            string path = r.Shared("uci-sentiment", f);
            foreach (var e in Readers.ReadLabeledTsv(path))
            {
                if (e.Label is not ("0" or "1")) throw new RecurFormatException(path, $"line {e.Line} field 'label'", $"expected 0 or 1, found '{e.Label}'");
                examples.Add(e);
            }
        }
        var (train, test) = Batching.Split(examples.Count, 0.8, new Rng(r.Seed));
        string trainPath = r.Data("train.tsv"), testPath = r.Data("test.tsv");
        WriteLines(trainPath, train.Select(i => examples[i].Text.Replace('\t', ' ') + "\t" + examples[i].Label));
        WriteLines(testPath, test.Select(i => examples[i].Text.Replace('\t', ' ') + "\t" + examples[i].Label));
        Console.WriteLine($"sentiment: {examples.Count} sentences, train {train.Length} (10% of them validate) / test {test.Length} (seed {r.Seed}) -> {r.DataDir}");
        return new Dictionary<string, string> { ["data"] = trainPath, ["test"] = testPath };
    }

    /// <summary>The shared text, or its first --max-chars characters for a quick run.</summary>
    private static IReadOnlyDictionary<string, string> PrepareCharLm(PresetRun r)
    {
        string path = r.Shared("tiny-shakespeare", "input.txt");
        if (r.Extra.TryGetValue("max-chars", out var m))
        {
            int max = int.Parse(m, Inv);
            string text = DataFiles.ReadAllText(path);
            if (text.Length > max)
            {
                path = r.Data("input.txt");
                WriteText(path, text[..max]);
            }
        }
        return new Dictionary<string, string> { ["data"] = path };
    }

    /// <summary>3,000 generated sentences, a seeded 80/10/10 split written as CoNLL files.</summary>
    private static IReadOnlyDictionary<string, string> PrepareTagging(PresetRun r)
    {
        var corpus = Synthetic.TaggingCorpus(3000, new Rng(r.Seed));
        var (trainIdx, rest) = Batching.Split(corpus.Count, 0.8, new Rng(r.Seed + 1));
        var parts = new Dictionary<string, string>();
        foreach (var (key, idx) in new[] { ("data", trainIdx), ("valid", rest[..(rest.Length / 2)]), ("test", rest[(rest.Length / 2)..]) })
        {
            string path = r.Data((key == "data" ? "train" : key) + ".conll");
            var text = new StringBuilder();
            foreach (int i in idx)
            {
                for (int t = 0; t < corpus[i].Tokens.Length; t++) text.Append(corpus[i].Tokens[t]).Append(' ').Append(corpus[i].Tags[t]).Append('\n');
                text.Append('\n');
            }
            WriteText(path, text.ToString());
            parts[key] = path;
        }
        Console.WriteLine($"tagging: {corpus.Count} generated sentences as CoNLL, train {trainIdx.Length} / validation {rest.Length / 2} / test {rest.Length - rest.Length / 2} -> {r.DataDir}");
        return parts;
    }

    /// <summary>The tutorial's filter over the Tatoeba pairs (French source, English target), a seeded 90/10 split.</summary>
    private static IReadOnlyDictionary<string, string> PrepareTranslation(PresetRun r)
    {
        var raw = TranslationData.ReadTsv(r.Shared("eng-fra", "fra.txt.gz"));
        var pairs = new List<string>();
        foreach (var p in raw)
        {
            string en = TranslationData.Normalize(p.Source), fr = TranslationData.Normalize(p.Target);
            if (TranslationData.Keep(en, fr)) pairs.Add(fr + "\t" + en);
        }
        var (train, test) = Batching.Split(pairs.Count, 0.9, new Rng(r.Seed));
        string trainPath = r.Data("train.tsv"), testPath = r.Data("test.tsv");
        WriteLines(trainPath, train.Select(i => pairs[i]));
        WriteLines(testPath, test.Select(i => pairs[i]));
        Console.WriteLine($"translation fra->eng: {raw.Count} pairs read, {pairs.Count} kept by the tutorial's filter; train {train.Length} / held out {test.Length} (seed {r.Seed}) -> {r.DataDir}");
        return new Dictionary<string, string> { ["data"] = trainPath, ["test"] = testPath };
    }

    /// <summary>The official FSDD split as list files: takes 0-4 of each speaker and digit are the test set.</summary>
    private static IReadOnlyDictionary<string, string> PrepareSpeech(PresetRun r)
    {
        var files = AudioClips.List(r.Shared("fsdd", "recordings")).Select(f => Path.GetFullPath(f.File)).ToList();
        static int Take(string file)
        {
            string name = Path.GetFileName(file);
            var parts = name.Split('.')[0].Split('_');
            return parts.Length == 3 && int.TryParse(parts[2], NumberStyles.None, Inv, out int take) ? take
                : throw new RecurFormatException(file, "file name", $"expected '<digit>_<speaker>_<take>.wav[.gz]', found '{name}'");
        }
        string trainPath = r.Data("train.txt"), testPath = r.Data("test.txt");
        WriteLines(trainPath, files.Where(f => Take(f) > 4));
        WriteLines(testPath, files.Where(f => Take(f) <= 4));
        Console.WriteLine($"speech: {files.Count} recordings, official split: train {files.Count(f => Take(f) > 4)} (10% of them validate) / test {files.Count(f => Take(f) <= 4)} -> {r.DataDir}");
        return new Dictionary<string, string> { ["data"] = trainPath, ["test"] = testPath };
    }

    /// <summary>Conditions held out of training: F minor, G# major, D minor, B major (condition = 2 * key + minor).</summary>
    internal static readonly int[] HeldOutConditions = [5 * 2 + 1, 8 * 2 + 0, 2 * 2 + 1, 11 * 2 + 0];

    /// <summary>Scales and arpeggios in 12 keys, major and minor, as piano-roll JSON: 20 pieces train, 4 are held out.</summary>
    private static IReadOnlyDictionary<string, string> PrepareMusic(PresetRun r)
    {
        var pieces = PianoRoll.ScalesAndArpeggios();
        string trainPath = r.Data("train.json"), heldPath = r.Data("held-out.json");
        PianoRoll.WriteJson(trainPath, pieces.Where(p => !HeldOutConditions.Contains(p.Condition)).Select(p => p.Piece));
        PianoRoll.WriteJson(heldPath, pieces.Where(p => HeldOutConditions.Contains(p.Condition)).Select(p => p.Piece));
        Console.WriteLine($"music: {pieces.Count} generated pieces, {pieces.Count - HeldOutConditions.Length} to train, {HeldOutConditions.Length} held out (F minor, G# major, D minor, B major) -> {r.DataDir}");
        return new Dictionary<string, string> { ["data"] = trainPath, ["valid"] = heldPath };
    }

    private static void WriteLines(string path, IEnumerable<string> lines) => WriteText(path, string.Concat(lines.Select(l => l + "\n")));

    private static void WriteText(string path, string text) => AtomicFile.Write(path, fs => fs.Write(new UTF8Encoding(false).GetBytes(text)));
}
