namespace Recur.Cli.Train;

/// <summary>Many-to-one on text: TSV/CSV with a text and a label column -> a recurrent classifier.</summary>
internal static class ClassifyTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    internal sealed record Example(string Text, string Label, int Line);

    /// <summary>Reads the text and label columns of a delimited file with the run's format options.</summary>
    internal static List<Example> Read(string path, Settings s, bool needLabels = true)
    {
        var (table, text, label) = Open(path, s, "text-column", "label-column");
        if (table.Header is null && s.Choice("header", "auto", "yes", "no") == "auto" && LooksLikeHeader(table, text, label))
        {
            // Read as data, such a row would be a training example with a label of its own, silently.
            var first = table.Rows[0];
            Console.Error.WriteLine($"note: {path}: line {first.Line} ('{Clip(first.Cells[text])}', '{Clip(first.Cells[label])}') is read as a header: " +
                                    $"its label '{Clip(first.Cells[label])}' is a column name that is not a label of any other row (--header no reads it as data)");
            table = table.WithFirstRowAsHeader();
        }
        return table.Rows.Select(r => new Example(table.Cell(r, text, "text"), needLabels ? table.Cell(r, label, "label") : r.Cells[label], r.Line)).ToList();
    }

    private static readonly string[] LabelNames = ["label", "labels", "class", "category", "sentiment", "target", "tag", "y", "intent", "topic", "polarity", "rating"];
    private static readonly string[] TextNames = ["text", "sentence", "review", "document", "comment", "tweet", "content", "message", "body", "title", "x"];

    /// <summary>
    /// Whether the first row of a table read without a header is one (<c>--header auto</c> with columns by index): its
    /// label cell is not the label of any other row, and its label or text cell is a usual column name
    /// (<c>sentence TAB label</c>, <c>text,sentiment</c>). A header-only file is then reported as one.
    /// </summary>
    internal static bool LooksLikeHeader(DelimitedTable table, int text, int label)
    {
        var first = table.Rows[0];
        string l = first.Cells[label].Trim();
        if (table.Rows.Skip(1).Any(r => string.Equals(r.Cells[label].Trim(), l, StringComparison.Ordinal))) return false;
        return LabelNames.Contains(l.ToLowerInvariant()) || TextNames.Contains(first.Cells[text].Trim().ToLowerInvariant());
    }

    private static string Clip(string s) => s.Length <= 30 ? s : s[..27] + "...";

    /// <summary>A delimited table and two of its columns, with the header rule of <c>--header auto</c>.</summary>
    internal static (DelimitedTable Table, int A, int B) Open(string path, Settings s, string columnA, string columnB)
    {
        string a = s.Str(columnA), b = s.Str(columnB);
        bool named = !int.TryParse(a, out _) || !int.TryParse(b, out _);
        bool header = s.Choice("header", "auto", "yes", "no") switch { "yes" => true, "no" => false, _ => named };
        var table = DelimitedTable.Read(path, Common.Delimiter(s, path), header, s.Limits);
        return (table, table.Column(a, "--" + columnA), table.Column(b, "--" + columnB));
    }

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var all = Common.Head(Read(dataPath, s), s);
        List<Example> train, valid;
        string validSource;
        if (s.Optional("valid") is { } vp) { train = all; valid = Read(vp, s); validSource = vp; }
        else { var (ti, vi) = Common.StratifiedSplit(all.Select(e => e.Label).ToList(), s, dataPath); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); validSource = dataPath; }
        var labels = train.Select(e => e.Label).Distinct().Order(StringComparer.Ordinal).ToList();
        if (labels.Count < 2) throw new Recur.RecurFormatException(dataPath, "--label-column", $"expected at least 2 different labels in the training part, found {labels.Count}");
        var tok = Common.BuildTokenizer(s, train.Select(e => e.Text).ToList(), "word");
        var encoder = TokenEncoder(s, tok.Vocabulary.Count);
        var vectors = ReadVectors(s, tok, encoder);
        var trainX = train.Select(e => Common.Encode(tok, e.Text, s, dataPath, e.Line)).ToList();
        var trainY = Common.LabelIds(labels, train.Select(e => (e.Label, e.Line)).ToList(), dataPath);
        var validX = valid.Select(e => Common.Encode(tok, e.Text, s, validSource, e.Line)).ToList();
        var validY = Common.LabelIds(labels, valid.Select(e => (e.Label, e.Line)).ToList(), validSource);
        int longest = trainX.Max(x => x.Length), batchSize = s.Int("batch-size", 1);
        ctx.CheckMemory(Common.EncoderMemory(s, encoder, longest, batchSize, labels.Count, perStep: false),
            $"batches of {batchSize} x {longest} tokens");
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation examples, {labels.Count} labels, vocabulary {tok.Vocabulary.Count} ({tok.Kind})");

        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = encoder,
            Pooling = Enum.Parse<Pooling>(s.Choice("pooling", "last", "mean", "max"), ignoreCase: true),
            Classes = labels.Count,
        }, Common.ModelRng(s));
        var facts = LoadVectors(vectors, model.Encoder.Embedding!, s, trainX);
        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var lengths = trainX.Select(x => x.Length).ToArray();
        var probe = Common.Probe(model, SequenceBatch.FromTokens(trainX, Enumerable.Range(0, Math.Min(batch, trainX.Count)).ToArray(), trainY[..Math.Min(batch, trainX.Count)]), model.Step);
        ctx.ProbeAtStart(probe);
        // Data-parallel (mpirun): every rank draws the same shuffled global batches and trains on its part of each (an
        // empty part, null, adds nothing); one process trains on the whole batch.
        ctx.Fit(model, _ => Batching.Batches(lengths, batch, shuffle).Select(b => DataParallel.Shard(b))
                .Select(b => b.Length == 0 ? null! : SequenceBatch.FromTokens(trainX, b, b.Select(i => trainY[i]).ToArray())),
            (trainX.Count + batch - 1) / batch,
            valid.Count > 0 ? () => Eval(model, validX, validY, labels.Count).Evaluation : null, shuffle);
        if (ctx.Cancelled) return null;

        var bundle = new ModelBundle { Model = model, Tokenizer = tok, Labels = labels };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, tok, labels, valid.Select(e => (e.Text, e.Label)).ToList(), validX, validY);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Confusion = outcome.Confusion, ConfusionLabels = labels, Samples = outcome.Samples,
            GradientProbe = probe, Facts = facts, Split = TaskOutcome.SplitOf(s),
        };
    }

    /// <summary>The token encoder of classify and tag: the common recurrent options plus word and embedding dropout.</summary>
    internal static EncoderConfig TokenEncoder(Settings s, int vocabulary) => Common.Encoder(s, vocabulary, null) with
    {
        WordDropout = s.Float("word-dropout", 0f, 0.99f),
        EmbeddingDropout = s.Float("embedding-dropout", 0f, 0.99f),
    };

    /// <summary>
    /// The --word-vectors file read for the vocabulary (null without one), checked before anything is written: word
    /// tokens only, and the file's dimension equal to --embedding. --freeze-embeddings without vectors is an error.
    /// </summary>
    internal static WordVectors? ReadVectors(Settings s, ITokenizer tok, EncoderConfig encoder)
    {
        bool freeze = s.Bool("freeze-embeddings");
        if (s.Optional("word-vectors") is not { } path)
            return freeze ? throw new ArgumentException("--freeze-embeddings: expected --word-vectors FILE to freeze, found none (a random embedding is not frozen)") : null;
        if (tok.Kind != "word")
            throw new ArgumentException($"--word-vectors: expected word tokens (--tokenizer word), found --tokenizer {tok.Kind}: pretrained vectors are per word");
        var vectors = WordVectors.Read(path, tok.Vocabulary);
        if (vectors.Dimension != encoder.EmbeddingDim)
            throw new ArgumentException($"--word-vectors: {path} holds {vectors.Dimension}-dimensional vectors, but --embedding is {encoder.EmbeddingDim}: give --embedding {vectors.Dimension}");
        return vectors;
    }

    /// <summary>
    /// Copies the vectors into the embedding (frozen with --freeze-embeddings), prints their coverage of the vocabulary
    /// and of the training tokens, and returns it for metrics.json and the report (nothing without vectors).
    /// </summary>
    internal static Dictionary<string, double> LoadVectors(WordVectors? vectors, Embedding embedding, Settings s, IEnumerable<int[]> trainX)
    {
        if (vectors is null) return [];
        bool freeze = s.Bool("freeze-embeddings");
        embedding.LoadPretrained(vectors.Values, vectors.Found, freeze);
        var (covered, total) = vectors.TokenCoverage(trainX);
        double words = vectors.Words > 0 ? (double)vectors.WordsFound / vectors.Words : 0, tokens = total > 0 ? (double)covered / total : 0;
        Console.WriteLine(string.Create(Common.Inv,
            $"word vectors: {vectors.Source} ({(vectors.Format == WordVectorFormat.Glove ? "GloVe" : "word2vec/fastText")} text, {vectors.FileWords} words x {vectors.Dimension}), {(freeze ? "frozen" : "fine-tuned")}: " +
            $"{vectors.WordsFound} of {vectors.Words} vocabulary words found ({words * 100:F1}%; {vectors.WordsFoundByLowercase} through the lower-case fallback), " +
            $"{covered} of {total} training tokens covered ({tokens * 100:F1}%)"));
        if (vectors.WordsFound == 0)
            Console.WriteLine($"warning: --word-vectors: none of the vocabulary's words is in {vectors.Source}: the embedding stays random");
        return new()
        {
            ["word_vectors_words_found"] = vectors.WordsFound,
            ["word_vectors_vocabulary_coverage"] = words,
            ["word_vectors_lowercase_matches"] = vectors.WordsFoundByLowercase,
            ["word_vectors_token_coverage"] = tokens,
        };
    }

    private static (Evaluation Evaluation, int[] Predicted, double Loss) Eval(SequenceClassifier model, List<int[]> x, int[] y, int classes)
    {
        var e = ClassifierEvaluation.Evaluate(model, Enumerable.Range(0, x.Count).Chunk(256).Select(idx => SequenceBatch.FromTokens(x, idx, idx.Select(i => y[i]).ToArray())));
        return (new Evaluation("accuracy", e.Accuracy, true, new Dictionary<string, double> { ["macro_f1"] = e.MacroF1, ["loss"] = e.Loss }), e.Predicted, e.Loss);
    }

    private static TaskOutcome Score(SequenceClassifier model, Recur.Data.ITokenizer tok, IReadOnlyList<string> labels, List<(string Text, string Label)> items, List<int[]> x, int[] y)
    {
        var (ev, pred, loss) = Eval(model, x, y, labels.Count);
        var (acc, f1, confusion) = Common.ClassMetrics(pred, y, labels.Count);
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model, Tokenizer = tok, Labels = labels },
            Metrics = new() { ["accuracy"] = acc, ["macro_f1"] = f1, ["loss"] = loss },
            Confusion = confusion, ConfusionLabels = labels,
            Samples = items.Take(20).Select((it, i) => (it.Text, it.Label, labels[pred[i]])).ToList(),
        };
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var model = (SequenceClassifier)bundle.Model;
        var tok = bundle.Tokenizer ?? throw new RecurFormatException(path, "tokenizer", "expected the model's tokenizer, found none");
        var labels = bundle.Labels ?? throw new RecurFormatException(path, "labels", "expected the model's labels, found none");
        var data = Read(path, s);
        var x = data.Select(e => Common.Encode(tok, e.Text, s, path, e.Line)).ToList();
        var y = Common.LabelIds(labels, data.Select(e => (e.Label, e.Line)).ToList(), path);
        return Score(model, tok, labels, data.Select(e => (e.Text, e.Label)).ToList(), x, y);
    }

    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        foreach (var (text, line) in Common.InputLines(input))
        {
            Common.Encode(bundle.Tokenizer!, text, s, source, line); // the empty and --max-length checks
            Common.PrintClassification(output, json, bundle.Labels!, bundle.Classify(text).Probabilities, "text", text);
        }
    }
}
