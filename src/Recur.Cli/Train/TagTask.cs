namespace Recur.Cli.Train;

/// <summary>Many-to-many, aligned: CoNLL token/tag files -> a recurrent tagger (one tag per token).</summary>
internal static class TagTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private static int[] Encode(ITokenizer tok, TaggedSentence sentence) => sentence.Tokens.Select(tok.Vocabulary.Id).ToArray();

    private static SequenceBatch Batch(List<int[]> x, List<int[]> y, int[] idx)
    {
        var b = SequenceBatch.FromTokens(x, idx);
        return new SequenceBatch { Tokens = b.Tokens, Lengths = b.Lengths, Steps = b.Steps, Targets = SequenceTagger.PadTargets(y, idx, b.Steps) };
    }

    private static List<int[]> TagIds(IReadOnlyList<string> tags, List<TaggedSentence> data, string source)
    {
        var index = tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i, StringComparer.Ordinal);
        return data.Select(s => s.Tags.Select((t, k) => index.TryGetValue(t, out int id) ? id
            : throw new RecurFormatException(source, $"line {s.Line + k}", $"expected one of the model's tags [{string.Join(", ", tags.Take(30))}], found '{t}'")).ToArray()).ToList();
    }

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var all = Common.Head(Readers.ReadConll(dataPath, s.Limits), s);
        List<TaggedSentence> train, valid;
        string validSource = dataPath;
        if (s.Optional("valid") is { } vp) { train = all; valid = Readers.ReadConll(vp, s.Limits); validSource = vp; }
        else { var (ti, vi) = Common.Split(all.Count, s); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); }
        var tok = new WordTokenizer(Vocabulary.Build(train.SelectMany(x => x.Tokens), s.Int("min-count", 1), s.Int("max-vocab", 2)), lowercase: false);
        var encoder = ClassifyTask.TokenEncoder(s, tok.Vocabulary.Count);
        var vectors = ClassifyTask.ReadVectors(s, tok, encoder);
        var tags = train.SelectMany(x => x.Tags).Distinct().Order(StringComparer.Ordinal).ToList();
        var trainX = train.Select(x => Encode(tok, x)).ToList();
        var trainY = TagIds(tags, train, dataPath);
        var validX = valid.Select(x => Encode(tok, x)).ToList();
        var validY = TagIds(tags, valid, validSource);
        int longest = trainX.Max(x => x.Length);
        ctx.CheckMemory(Common.EncoderMemory(s, encoder, longest, s.Int("batch-size", 1), tags.Count, perStep: true),
            $"batches of {s.Int("batch-size", 1)} x {longest} tokens");
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation sentences, {tags.Count} tags, vocabulary {tok.Vocabulary.Count}");

        var model = new SequenceTagger(new TaggerConfig { Encoder = encoder, Tags = tags.Count }, Common.ModelRng(s));
        var facts = ClassifyTask.LoadVectors(vectors, model.Encoder.Embedding!, s, trainX);
        int batch = s.Int("batch-size", 1);
        var shuffle = Common.ShuffleRng(s);
        var lengths = trainX.Select(x => x.Length).ToArray();
        var probe = Common.Probe(model, Batch(trainX, trainY, Enumerable.Range(0, Math.Min(batch, trainX.Count)).ToArray()), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, _ => Batching.Batches(lengths, batch, shuffle).Select(b => Batch(trainX, trainY, b)), (trainX.Count + batch - 1) / batch,
            valid.Count > 0 ? () => { var m = Score(model, valid, validX, validY, tags).Metrics; return new Evaluation("accuracy", m["accuracy"], true, new Dictionary<string, double> { ["macro_f1"] = m["macro_f1"] }); } : null,
            shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle { Model = model, Tokenizer = tok, Labels = tags };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, valid, validX, validY, tags);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Confusion = outcome.Confusion, ConfusionLabels = tags, Samples = outcome.Samples,
            GradientProbe = probe, Facts = facts, Split = TaskOutcome.SplitOf(s),
        };
    }

    private static TaskOutcome Score(SequenceTagger model, List<TaggedSentence> data, List<int[]> x, List<int[]> y, IReadOnlyList<string> tags)
    {
        using var mode = model.EvaluationMode();
        var pred = new List<int>();
        var truth = new List<int>();
        var perSentence = new int[x.Count][];
        for (int start = 0; start < x.Count; start += 256)
        {
            var idx = Enumerable.Range(start, Math.Min(256, x.Count - start)).ToArray();
            var p = model.PredictTags(SequenceBatch.FromTokens(x, idx));
            for (int k = 0; k < idx.Length; k++)
            {
                perSentence[idx[k]] = p[k];
                pred.AddRange(p[k]);
                truth.AddRange(y[idx[k]]);
            }
        }
        double loss = Common.MeanLoss<SequenceBatch>(model, Enumerable.Range(0, (x.Count + 255) / 256)
            .Select(c => Enumerable.Range(c * 256, Math.Min(256, x.Count - c * 256)).ToArray()).Select(idx => Batch(x, y, idx)));
        var (acc, f1, confusion) = Common.ClassMetrics([.. pred], [.. truth], tags.Count);
        return new TaskOutcome
        {
            Bundle = new ModelBundle { Model = model },
            Metrics = new() { ["accuracy"] = acc, ["macro_f1"] = f1, ["loss"] = loss },
            Confusion = confusion, ConfusionLabels = tags,
            Samples = data.Take(20).Select((sn, i) => (string.Join(' ', sn.Tokens), string.Join(' ', sn.Tags), string.Join(' ', perSentence[i].Select(t => tags[t])))).ToList(),
        };
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var model = (SequenceTagger)bundle.Model;
        var tok = bundle.Tokenizer!;
        var tags = bundle.Labels!;
        var data = Readers.ReadConll(path, s.Limits);
        return Score(model, data, data.Select(x => Encode(tok, x)).ToList(), TagIds(tags, data, path), tags);
    }

    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        int max = s.Int("max-length", 1);
        foreach (var (text, line) in Common.InputLines(input))
        {
            var tokens = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length > max) throw new RecurFormatException(source, $"line {line}", $"expected at most {max} tokens (--max-length), found {tokens.Length}");
            var p = bundle.Tag(tokens);
            // A word the model never saw is read as <unk>: its tag is a guess from the context, so it is flagged.
            var vocabulary = bundle.Tokenizer!.Vocabulary;
            var unknown = tokens.Select(t => vocabulary.Id(t) == vocabulary.UnkId).ToArray();
            if (!json) { output.WriteLine(string.Join(' ', tokens.Select((t, i) => $"{t}/{p[i]}{(unknown[i] ? "?" : "")}"))); continue; }
            output.WriteLine(Common.JsonLine(w =>
            {
                w.WriteStartArray("tokens");
                foreach (var t in tokens) w.WriteStringValue(t);
                w.WriteEndArray();
                w.WriteStartArray("tags");
                foreach (var t in p) w.WriteStringValue(t);
                w.WriteEndArray();
                w.WriteStartArray("unknown");
                foreach (bool u in unknown) w.WriteBooleanValue(u);
                w.WriteEndArray();
            }));
        }
    }
}
