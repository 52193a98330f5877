using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.Nn;

namespace Recur.Cli.Train;

/// <summary>
/// What every task provides to the commands: train, evaluate a data file, predict from lines of input (the reader and
/// the name errors give it: the input file's path, or <c>&lt;stdin&gt;</c>).
/// </summary>
internal sealed record TaskDef(
    Func<RunContext, TaskOutcome?> Train,
    Func<ModelBundle, Settings, string, TaskOutcome> Evaluate,
    Action<ModelBundle, Settings, TextReader, string, TextWriter, bool> Predict);

internal static class TaskRegistry
{
    public static TaskDef Get(string task) => task switch
    {
        "classify" => ClassifyTask.Def,
        "tag" => TagTask.Def,
        "lm" => LmTask.Def,
        "mlp" => MlpTask.Def,
        "seq2seq" => Seq2SeqTask.Def,
        "forecast" => ForecastTask.Def,
        "audio" => AudioTask.Def,
        "music" => MusicTask.Def,
        "sequence" => SequenceTask.Def,
        "asr" => AsrTask.Def,
        _ => throw new ArgumentException($"--task: expected one of {string.Join(", ", Settings.Tasks)}, found '{task}'"),
    };

    /// <summary>The settings a model was trained with (stored as config.* metadata), for evaluate and predict.</summary>
    public static Settings SettingsOf(ModelBundle bundle, string path)
    {
        var stored = bundle.Metadata.Where(kv => kv.Key.StartsWith("config.", StringComparison.Ordinal)).ToDictionary(kv => kv.Key[7..], kv => kv.Value);
        if (!stored.ContainsKey("task"))
            throw new RecurFormatException(path, "metadata.config.task", "expected the training configuration `recur train` stores, found none (a model trained with library code: save it with ModelBundle.WithTask(task, options) to add it; models from other tools: use the library API)");
        // A labels file of the sequence task pairs with one .npy of features (the training, validation or test data):
        // data evaluated later brings its own, so the stored ones are not carried over.
        if (stored["task"] == "sequence") foreach (var paired in new[] { "labels", "valid-labels", "test-labels" }) stored.Remove(paired);
        return Settings.FromDictionary(stored);
    }
}

internal static class Common
{
    public static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static RecurrentMode Cell(Settings s) => s.Choice("cell", "lstm", "gru", "rnn-tanh", "rnn-relu") switch
    {
        "gru" => RecurrentMode.Gru,
        "rnn-tanh" => RecurrentMode.RnnTanh,
        "rnn-relu" => RecurrentMode.RnnRelu,
        _ => RecurrentMode.Lstm,
    };

    public static EncoderConfig Encoder(Settings s, int? vocabulary, int? features) => new()
    {
        VocabularySize = vocabulary,
        InputFeatures = features,
        EmbeddingDim = s.Int("embedding", 1),
        Cell = Cell(s),
        HiddenSize = s.Int("hidden", 1),
        Layers = s.Int("layers", 1),
        Bidirectional = s.Bool("bidirectional"),
        Dropout = s.Float("dropout", 0f, 0.99f),
        RecurrentDropout = s.Float("recurrent-dropout", 0f, 0.99f),
        ProjSize = ProjSize(s),
    };

    /// <summary>--proj-size: 0, or an LSTM projection smaller than --hidden.</summary>
    public static int ProjSize(Settings s)
    {
        if (s.Task is not ("classify" or "tag" or "lm" or "seq2seq" or "audio" or "sequence" or "asr") || Cell(s) != RecurrentMode.Lstm) return 0;
        int p = s.Int("proj-size", 0), h = s.Int("hidden", 1);
        if (p >= h && p > 0)
            throw new ArgumentException($"--proj-size: expected 0 or fewer units than --hidden ({h}), found {p}");
        return p;
    }

    /// <summary>Optimizer moments per parameter for --optimizer (Adam/AdamW two, the others one).</summary>
    public static int OptimizerMoments(Settings s) => Optimizer(s) is "adam" or "adamw" ? 2 : 1;

    /// <summary>--optimizer, checked against the optimizers the training loop builds.</summary>
    public static string Optimizer(Settings s) => s.Choice("optimizer", "adam", "adamw", "sgd", "rmsprop", "adagrad");

    /// <summary>--schedule, checked against the schedules the training loop builds.</summary>
    public static string Schedule(Settings s) => s.Choice("schedule", "none", "cosine", "plateau", "step");

    /// <summary>
    /// Estimated training memory of an encoder (embedding, recurrent stack) plus an output layer of
    /// <paramref name="outputs"/> units, applied at every step (<paramref name="perStep"/>) or once per sequence, for
    /// batches of <paramref name="batch"/> sequences of up to <paramref name="steps"/> steps.
    /// </summary>
    public static MemoryEstimate EncoderMemory(Settings s, EncoderConfig enc, int steps, int batch, int outputs, bool perStep)
    {
        int moments = OptimizerMoments(s);
        var total = MemoryEstimate.ForRecurrent(enc.Cell, enc.RecurrentInput, enc.HiddenSize, enc.Layers, enc.Bidirectional, steps, batch, moments, enc.Dropout > 0);
        double rows = (double)steps * batch;
        if (enc.VocabularySize is { } v) total += MemoryEstimate.ForDense((double)v * enc.EmbeddingDim, rows * enc.EmbeddingDim * 2, moments);
        double width = (enc.Bidirectional ? 2.0 : 1.0) * enc.HiddenSize;
        total += MemoryEstimate.ForDense(outputs * (width + 1), (perStep ? rows : batch) * outputs * 3, moments);   // logits, probabilities, their gradient
        return total;
    }

    /// <summary>The delimiter of a TSV/CSV file: --delimiter, or by its extension.</summary>
    public static char Delimiter(Settings s, string path) =>
        s.Choice("delimiter", "auto", "tab", "comma") switch { "tab" => '\t', "comma" => ',', _ => DelimitedTable.DelimiterFor(path) };

    public static string TokenizerKind(Settings s, string fallback)
    {
        string k = s.Choice("tokenizer", "auto", "char", "word", "bpe", "ptb");
        if (k == "ptb" && s.Task != "lm")
            throw new ArgumentException($"--tokenizer ptb: reads a text as one token stream with <eos> per line, for --task lm only; found --task {s.Task}");
        return k == "auto" ? fallback : k;
    }

    public static ITokenizer BuildTokenizer(Settings s, IReadOnlyList<string> texts, string fallback, IEnumerable<string>? extraSpecials = null)
    {
        int minCount = s.Int("min-count", 1), maxVocab = s.Int("max-vocab", 2);
        bool lower = s.Bool("lowercase");
        return TokenizerKind(s, fallback) switch
        {
            "char" => new CharTokenizer(Vocabulary.Build(texts.SelectMany(CharTokenizer.Split), minCount, maxVocab, extraSpecials)),
            // GPT-2 byte-level BPE keeps case (its merges are case-sensitive); --lowercase applies to word tokens.
            "bpe" => BpeTokenizer.Build(texts, minCount, maxVocab, extraSpecials),
            "ptb" => PtbVocabulary(texts, minCount, maxVocab),
            _ => WordTokenizer.Build(texts, lower, minCount, maxVocab, extraSpecials),
        };
    }

    /// <summary>
    /// The by-the-book word-LM reading: every type of the training text (no lower-casing, no cap). A text with more
    /// types than --max-vocab is an error rather than a silent cut: the cap belongs in the files, as <c>&lt;unk&gt;</c>.
    /// </summary>
    private static PtbTokenizer PtbVocabulary(IReadOnlyList<string> texts, int minCount, int maxVocab)
    {
        var tok = PtbTokenizer.Build(texts, minCount);
        int types = tok.Vocabulary.Count - 1;   // <pad> is no type of the text
        if (types > maxVocab)
            throw new ArgumentException($"--max-vocab: the training text has {types} types (<unk> and <eos> included), more than {maxVocab}; --tokenizer ptb keeps every type of the file, " +
                                        "so raise --max-vocab, or write rare words as <unk> in the files (or drop them with --min-count)");
        return tok;
    }

    /// <summary>Token ids of one example, or an error naming the file and line for an empty or too long sequence.</summary>
    public static int[] Encode(ITokenizer tok, string text, Settings s, string source, int line)
    {
        var ids = tok.Encode(text);
        if (ids.Length == 0) throw new RecurFormatException(source, $"line {line}", "expected at least one token, found an empty sequence");
        int max = s.Int("max-length", 1);
        if (ids.Length > max) throw new RecurFormatException(source, $"line {line}", $"expected at most {max} tokens (--max-length), found {ids.Length}");
        return ids;
    }

    /// <summary>The first --max-rows examples of --data (all when it is 0), read in file order.</summary>
    public static List<T> Head<T>(List<T> all, Settings s)
    {
        int n = s.Int("max-rows", 0);
        return n > 0 && n < all.Count ? all.GetRange(0, n) : all;
    }

    /// <summary>Seeded train/validation indices of n examples.</summary>
    public static (int[] Train, int[] Valid) Split(int n, Settings s)
    {
        float f = s.Float("valid-fraction", 0f, 0.9f);
        var (train, valid) = Batching.Split(n, 1 - f, new Rng(s.Seed));
        if (train.Length == 0) throw new ArgumentException($"--data: {n} examples leave none to train on after holding out --valid-fraction {f}");
        return (train, valid);
    }

    /// <summary>
    /// Seeded train/validation indices for classification, stratified by label (<see cref="Batching.StratifiedSplit"/>):
    /// every label stays in the training part, so whether the model knows a rare label never depends on the seed.
    /// Prints a warning naming the labels with fewer than <see cref="FewExamples"/> examples.
    /// </summary>
    public static (int[] Train, int[] Valid) StratifiedSplit(IReadOnlyList<string> labels, Settings s, string source)
    {
        WarnRareLabels(labels, source);
        float f = s.Float("valid-fraction", 0f, 0.9f);
        return Batching.StratifiedSplit(labels, 1 - f, new Rng(s.Seed));
    }

    /// <summary>Labels with fewer examples than this get a warning: their validation and test figures mean little.</summary>
    public const int FewExamples = 5;

    public static void WarnRareLabels(IReadOnlyList<string> labels, string source)
    {
        var rare = labels.GroupBy(l => l, StringComparer.Ordinal).Where(g => g.Count() < FewExamples)
                         .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"'{g.Key}' ({g.Count()})").ToList();
        if (rare.Count > 0)
            Console.WriteLine($"warning: {source}: {rare.Count} label(s) with fewer than {FewExamples} examples: {string.Join(", ", rare.Take(20))}{(rare.Count > 20 ? ", ..." : "")}; " +
                              "each stays in the training part, but their validation and test figures mean little");
    }

    public static Rng ModelRng(Settings s) => new(s.Seed + 1);
    public static Rng ShuffleRng(Settings s) => new(s.Seed + 2);

    /// <summary>Label ids for a label column; labels the model does not know are an error naming file and line.</summary>
    public static int[] LabelIds(IReadOnlyList<string> labels, IReadOnlyList<(string Label, int Line)> items, string source) =>
        new LabelMap(labels).Indices(items, source);

    public static (double Accuracy, double MacroF1, int[,] Confusion) ClassMetrics(int[] predicted, int[] truth, int classes)
    {
        var scores = ClassificationScores.Of(predicted, truth, classes);
        return (scores.Accuracy, scores.MacroF1, scores.Confusion);
    }

    public static int ArgMax(ReadOnlySpan<float> v) => ClassifierEvaluation.ArgMax(v);

    /// <summary>Non-empty lines of a prediction input.</summary>
    public static IEnumerable<(string Text, int Line)> InputLines(TextReader input)
    {
        int n = 0;
        while (input.ReadLine() is { } line)
        {
            n++;
            if (line.Trim().Length > 0) yield return (line, n);
        }
    }

    public static string JsonLine(Action<Utf8JsonWriter> body)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    public static string F(double v) => v.ToString("G6", Inv);

    /// <summary>Evaluation of a loss over batches (mean weighted by counts).</summary>
    public static double MeanLoss<T>(ITrainable<T> model, IEnumerable<T> batches)
    {
        using var mode = model.Model.EvaluationMode();
        double total = 0, count = 0;
        foreach (var b in batches) { var l = model.Step(b, backward: false); total += l.Loss * l.Count; count += l.Count; }
        return count > 0 ? total / count : double.NaN;
    }

    /// <summary>
    /// One backward pass on a batch for the gradient-flow plot, in evaluation mode (no dropout, so no random stream is
    /// consumed and training is the same with or without it); the gradients are cleared afterwards. <paramref name="step"/>
    /// is the model's <c>Step(batch, backward, gradientFlow)</c>: the probe passes its observer to that call.
    /// </summary>
    public static Action<IGradientFlowObserver> Probe<T>(ITrainable<T> model, T batch, Func<T, bool, IGradientFlowObserver?, BatchLoss> step) => observer =>
    {
        try
        {
            using (model.Model.EvaluationMode()) step(batch, true, observer);
        }
        finally
        {
            foreach (var p in model.Model.Parameters()) p.Grad.Span.Clear();
        }
    };

    public static float[] ParseFloats(string csv, string what) =>
        csv.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => float.TryParse(x, NumberStyles.Float, Inv, out float v) ? v
            : throw new FormatException($"{what}: expected numbers, found '{x}'")).ToArray();

    public static string JoinFloats(IEnumerable<float> v) => string.Join(",", v.Select(x => x.ToString("R", Inv)));

    /// <summary>One classification on a prediction line: "[key TAB] label TAB p", or a JSON object with the key, the label and every probability.</summary>
    public static void PrintClassification(TextWriter output, bool json, IReadOnlyList<string> labels, ReadOnlySpan<float> probabilities, string? key = null, string? keyValue = null)
    {
        int best = ArgMax(probabilities);
        if (!json)
        {
            output.WriteLine($"{(keyValue is null || key == "text" ? "" : keyValue + "\t")}{labels[best]}\t{F(probabilities[best])}");
            return;
        }
        var p = probabilities.ToArray();
        output.WriteLine(JsonLine(w =>
        {
            if (key is not null) w.WriteString(key, keyValue);
            w.WriteString("label", labels[best]);
            w.WriteStartObject("probabilities");
            for (int i = 0; i < labels.Count; i++) w.WriteNumber(labels[i], Math.Round(p[i], 6));
            w.WriteEndObject();
        }));
    }
}
