namespace Recur.Cli.Train;

/// <summary>Many-to-many, unaligned: source/target text columns -> an attentional encoder–decoder, scored with corpus BLEU.</summary>
internal static class Seq2SeqTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private sealed record Pair(string Source, string Target, int Line);

    private static List<Pair> Read(string path, Settings s)
    {
        var (t, a, b) = ClassifyTask.Open(path, s, "source-column", "target-column");
        return t.Rows.Select(r => new Pair(t.Cell(r, a, "source text"), t.Cell(r, b, "target text"), r.Line)).ToList();
    }

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        var all = Common.Head(Read(dataPath, s), s);
        List<Pair> train, valid;
        string validSource = dataPath;
        if (s.Optional("valid") is { } vp) { train = all; valid = Read(vp, s); validSource = vp; }
        else { var (ti, vi) = Common.Split(all.Count, s); train = ti.Select(i => all[i]).ToList(); valid = vi.Select(i => all[i]).ToList(); }
        var srcTok = Common.BuildTokenizer(s, train.Select(p => p.Source).ToList(), "word");
        var tgtTok = Common.BuildTokenizer(s, train.Select(p => p.Target).ToList(), "word", [Vocabulary.Bos, Vocabulary.Eos]);
        int bos = tgtTok.Vocabulary.Id(Vocabulary.Bos), eos = tgtTok.Vocabulary.Id(Vocabulary.Eos);
        var srcX = train.Select(p => Common.Encode(srcTok, p.Source, s, dataPath, p.Line)).ToList();
        var tgtX = train.Select(p => Common.Encode(tgtTok, p.Target, s, dataPath, p.Line)).ToList();
        var vSrc = valid.Select(p => Common.Encode(srcTok, p.Source, s, validSource, p.Line)).ToList();
        var vTgt = valid.Select(p => Common.Encode(tgtTok, p.Target, s, validSource, p.Line)).ToList();
        {
            // Encoder over the longest source, decoder (same sizes) over the longest target with the target vocabulary as output.
            int b = s.Int("batch-size", 1), srcLen = srcX.Max(x => x.Length), tgtLen = tgtX.Max(x => x.Length) + 1;
            var e = Common.Encoder(s, srcTok.Vocabulary.Count, null);
            ctx.CheckMemory(Common.EncoderMemory(s, e, srcLen, b, 0, perStep: true) +
                            Common.EncoderMemory(s, e with { VocabularySize = tgtTok.Vocabulary.Count, Bidirectional = false }, tgtLen, b, tgtTok.Vocabulary.Count, perStep: true),
                $"batches of {b} pairs, up to {srcLen} source and {tgtLen} target tokens");
        }
        ctx.PrintConfig($"{train.Count} training / {valid.Count} validation pairs, vocabularies {srcTok.Vocabulary.Count} source / {tgtTok.Vocabulary.Count} target ({srcTok.Kind})");

        int hidden = s.Int("hidden", 1);
        var enc = Common.Encoder(s, srcTok.Vocabulary.Count, null);
        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = enc, TargetVocabulary = tgtTok.Vocabulary.Count, BosId = bos, EosId = eos,
            DecoderEmbedding = enc.EmbeddingDim, DecoderCell = enc.Cell, DecoderHidden = enc.Bidirectional ? 2 * hidden : hidden,
            DecoderLayers = 1, Dropout = enc.Dropout,
        }, Common.ModelRng(s));
        int batch = s.Int("batch-size", 1), epochs = s.Int("epochs", 1);
        float ss = s.Float("scheduled-sampling", 0f, 1f);
        var shuffle = Common.ShuffleRng(s);
        var lengths = srcX.Select(x => x.Length).ToArray();
        var validBatches = Enumerable.Range(0, vSrc.Count).Chunk(256).Select(c => TranslationBatch.Create(vSrc, vTgt, c, bos, eos)).ToList();
        var probe = Common.Probe(model, TranslationBatch.Create(srcX, tgtX, Enumerable.Range(0, Math.Min(batch, srcX.Count)).ToArray(), bos, eos), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, epoch =>
        {
            model.ScheduledSamplingRatio = ss * (epoch - 1) / Math.Max(1, epochs - 1);
            return Batching.Batches(lengths, batch, shuffle).Select(b => TranslationBatch.Create(srcX, tgtX, b, bos, eos));
        }, (srcX.Count + batch - 1) / batch, validBatches.Count > 0 ? () => new Evaluation("loss", Common.MeanLoss(model, validBatches), false) : null, shuffle);
        if (ctx.Cancelled) return null;
        var bundle = new ModelBundle { Model = model, Tokenizer = srcTok, TargetTokenizer = tgtTok };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, srcTok, tgtTok, valid, vSrc, vTgt, s);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Samples = outcome.Samples,
            GradientProbe = probe, Split = TaskOutcome.SplitOf(s),
        };
    }

    private static string[] Words(ITokenizer tok, int[] ids) => tok.Decode(ids).Split(' ', StringSplitOptions.RemoveEmptyEntries);

    private static TaskOutcome Score(Seq2Seq model, ITokenizer srcTok, ITokenizer tgtTok, List<Pair> data, List<int[]> src, List<int[]> tgt, Settings s)
    {
        int beam = s.Int("beam", 1), max = s.Int("max-target-length", 1);
        var greedy = new List<IReadOnlyList<string>>();
        var beamed = new List<IReadOnlyList<string>>();
        var refs = new List<IReadOnlyList<string>>();
        var samples = new List<(string, string, string)>();
        for (int i = 0; i < src.Count; i++)
        {
            var g = Words(tgtTok, model.Greedy(src[i], max));
            var b = beam > 1 ? Words(tgtTok, model.Beam(src[i], max, beam)) : g;
            greedy.Add(g);
            beamed.Add(b);
            refs.Add(Words(tgtTok, tgt[i]));
            if (samples.Count < 20) samples.Add((data[i].Source, data[i].Target, string.Join(' ', b)));
        }
        int bos = model.Config.BosId, eos = model.Config.EosId;
        double loss = Common.MeanLoss(model, Enumerable.Range(0, src.Count).Chunk(256).Select(c => TranslationBatch.Create(src, tgt, c, bos, eos)));
        var m = new Dictionary<string, double> { ["bleu"] = 100 * Bleu.Corpus(beamed, refs), ["bleu_greedy"] = 100 * Bleu.Corpus(greedy, refs), ["loss"] = loss };
        return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m, Samples = samples };
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var data = Read(path, s);
        var src = data.Select(p => Common.Encode(bundle.Tokenizer!, p.Source, s, path, p.Line)).ToList();
        var tgt = data.Select(p => Common.Encode(bundle.TargetTokenizer!, p.Target, s, path, p.Line)).ToList();
        return Score((Seq2Seq)bundle.Model, bundle.Tokenizer!, bundle.TargetTokenizer!, data, src, tgt, s);
    }

    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json) =>
        Translate(bundle, s, input, source, output, json, s.Int("beam", 1));

    /// <summary>recur translate: one source sentence per line.</summary>
    public static void Translate(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json, int beam)
    {
        int max = s.Int("max-target-length", 1);
        foreach (var (text, line) in Common.InputLines(input))
        {
            Common.Encode(bundle.Tokenizer!, text, s, source, line); // the empty and --max-length checks
            string translation = bundle.Translate(text, beam, max);
            output.WriteLine(json ? Common.JsonLine(w => { w.WriteString("source", text); w.WriteString("translation", translation); }) : translation);
        }
    }
}
