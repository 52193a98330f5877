using System.Globalization;
using Recur.Models.Decoding;
using Spectre.Console;

namespace Recur.Cli.Train;

/// <summary>Many-to-many, unaligned: source/target text columns -> an attentional encoder–decoder, scored with sacreBLEU's BLEU and chrF.</summary>
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
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : Score(model, tgtTok, valid, vSrc, vTgt, s);
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Samples = outcome.Samples,
            GradientProbe = probe, Split = TaskOutcome.SplitOf(s),
        };
    }

    /// <summary>The beam search --beam, --length-penalty and --no-repeat-ngram ask for (null for --beam 1: greedy decoding).</summary>
    public static BeamSearch? Search(Settings s, int beam)
    {
        var (form, alpha) = LengthPenalty(s);
        int noRepeat = s.Int("no-repeat-ngram", 0, 100);
        if (beam > 1) return new BeamSearch(beam, alpha, form, noRepeat);
        if (form != LengthPenaltyForm.Power || alpha != 1f)
            throw new ArgumentException($"--length-penalty ranks beam hypotheses; with --beam 1 (greedy decoding) it has no effect: remove it or use --beam > 1 (found '{s.Str("length-penalty")}')");
        return null;
    }

    /// <summary>--length-penalty: A (log p / length^A) or gnmt:A (log p / ((5 + length)/6)^A).</summary>
    private static (LengthPenaltyForm Form, float Alpha) LengthPenalty(Settings s)
    {
        string v = s.Str("length-penalty").Trim();
        var form = LengthPenaltyForm.Power;
        if (v.StartsWith("gnmt:", StringComparison.OrdinalIgnoreCase)) { form = LengthPenaltyForm.Gnmt; v = v[5..]; }
        if (!float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float a) || !float.IsFinite(a) || a < 0 || a > 10)
            throw new ArgumentException($"--length-penalty: expected a number A in [0, 10] (log p / length^A) or gnmt:A (GNMT's ((5 + length)/6)^A), found '{s.Str("length-penalty")}'");
        return (form, a);
    }

    /// <summary>--score-limit: how many pairs are decoded for BLEU/chrF (null: all).</summary>
    private static int? ScoreLimit(Settings s)
    {
        string v = s.Str("score-limit").Trim();
        if (v.Equals("all", StringComparison.OrdinalIgnoreCase)) return null;
        return int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n
            : throw new ArgumentException($"--score-limit: expected 'all' or a number of pairs >= 0 (0: loss only, no decoding), found '{v}'");
    }

    /// <summary>The scoring's settings, as the output states them.</summary>
    private static BleuOptions BleuSettings(ITokenizer tgtTok) => new() { Lowercase = tgtTok is WordTokenizer { Lowercase: true } };

    /// <summary>
    /// Loss over all pairs, then (up to --score-limit pairs) greedy and, with --beam > 1, beam decoding in batches,
    /// scored against the raw target text: BLEU and chrF as sacreBLEU computes them, exact match, and how often an
    /// output ran to the length limit or repeated a bigram. Progress goes to standard error.
    /// </summary>
    private static TaskOutcome Score(Seq2Seq model, ITokenizer tgtTok, List<Pair> data, List<int[]> src, List<int[]> tgt, Settings s)
    {
        int beam = s.Int("beam", 1), max = s.Int("max-target-length", 1), noRepeat = s.Int("no-repeat-ngram", 0, 100);
        var search = Search(s, beam);
        int n = Math.Min(ScoreLimit(s) ?? src.Count, src.Count);
        int bos = model.Config.BosId, eos = model.Config.EosId;
        double loss = Common.MeanLoss(model, Enumerable.Range(0, src.Count).Chunk(256).Select(c => TranslationBatch.Create(src, tgt, c, bos, eos)));
        var m = new Dictionary<string, double> { ["loss"] = loss };
        var samples = new List<(string, string, string)>();
        if (n == 0)
        {
            Console.Error.WriteLine($"scoring: loss on {src.Count} pairs; no decoding (--score-limit 0)");
            return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m, Samples = samples };
        }
        var bleu = BleuSettings(tgtTok);
        var chrf = new ChrFOptions { Lowercase = bleu.Lowercase };
        var sources = src.GetRange(0, n);
        var refs = data.GetRange(0, n).Select(p => p.Target).ToList(); // the raw target text, never rebuilt from token ids
        Console.Error.WriteLine($"scoring {n} of {src.Count} pairs against the raw target text: BLEU ({bleu.Describe()}), chrF2 (sacreBLEU), exact match (13a tokens{(bleu.Lowercase ? ", lowercased" : "")}); " +
                                $"decoding: greedy{(search is null ? "" : $" and beam {beam} (length penalty {s.Str("length-penalty")})")}{(noRepeat > 0 ? $", no repeated {noRepeat}-grams" : "")}, at most {max} tokens");
        void Add(string suffix, Decoded[] outputs)
        {
            var hyps = outputs.Select(o => tgtTok.Decode(o.Tokens)).ToList();
            m["bleu" + suffix] = Bleu.Corpus(hyps, refs, bleu).Score;
            m["chrf" + suffix] = ChrF.Corpus(hyps, refs, chrf);
            m["exact_match" + suffix] = ExactMatch.Percent(hyps, refs, bleu.Lowercase);
            m["hit_max_length" + suffix] = 100.0 * outputs.Count(o => !o.Ended) / outputs.Length;
            m["repeated_bigram" + suffix] = 100.0 * outputs.Count(o => HasRepeatedBigram(o.Tokens)) / outputs.Length;
            if (samples.Count == 0)
                for (int i = 0; i < Math.Min(20, n); i++) samples.Add((data[i].Source, data[i].Target, hyps[i]));
        }
        var beamed = search is null ? null : Decode(model, sources, max, search, noRepeat, $"beam {beam}");
        var greedy = Decode(model, sources, max, null, noRepeat, "greedy");
        if (beamed is not null) Add("", beamed);
        Add(beamed is null ? "" : "_greedy", greedy);
        return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m, Samples = samples };
    }

    private static bool HasRepeatedBigram(int[] tokens)
    {
        var seen = new HashSet<(int, int)>();
        for (int i = 0; i + 1 < tokens.Length; i++) if (!seen.Add((tokens[i], tokens[i + 1]))) return true;
        return false;
    }

    /// <summary>Batched decoding with progress on standard error: a bar on a terminal, a line per batch otherwise.</summary>
    private static Decoded[] Decode(Seq2Seq model, List<int[]> sources, int max, BeamSearch? search, int noRepeat, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        int batch = search is null ? 128 : Math.Max(8, 320 / search.Width);
        Decoded[]? result = null;
        if (!Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            console.Progress().AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask($"decoding ({what})", maxValue: sources.Count);
                    result = model.DecodeMany(sources, max, search, noRepeat, batch, done => task.Value = done);
                });
        }
        else
        {
            int lastShown = 0;
            result = model.DecodeMany(sources, max, search, noRepeat, batch, done =>
            {
                if (done == sources.Count || done - lastShown >= Math.Max(batch, sources.Count / 10))
                {
                    lastShown = done;
                    Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"decoding ({what}): {done}/{sources.Count} pairs, {clock.Elapsed.TotalSeconds:F1} s"));
                }
            });
        }
        return result!;
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var data = Read(path, s);
        var src = data.Select(p => Common.Encode(bundle.Tokenizer!, p.Source, s, path, p.Line)).ToList();
        var tgt = data.Select(p => Common.Encode(bundle.TargetTokenizer!, p.Target, s, path, p.Line)).ToList();
        return Score((Seq2Seq)bundle.Model, bundle.TargetTokenizer!, data, src, tgt, s);
    }

    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json) =>
        Translate(bundle, s, input, source, output, json, s.Int("beam", 1));

    /// <summary>
    /// recur translate: one source sentence per line, one translation per line; a blank line gives a blank line, so
    /// the output lines up with the input. Sentences are decoded in batches (one at a time from an interactive terminal).
    /// </summary>
    public static void Translate(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json, int beam)
    {
        int max = s.Int("max-target-length", 1), noRepeat = s.Int("no-repeat-ngram", 0, 100);
        var search = Search(s, beam);
        var model = (Seq2Seq)bundle.Model;
        var tgtTok = bundle.TargetTokenizer ?? throw new InvalidOperationException("this seq2seq model has no target tokenizer");
        int batch = source == "<stdin>" && !Console.IsInputRedirected ? 1 : 64;
        var lines = new List<(string Text, int Line)>();
        int n = 0;
        void Flush()
        {
            var texts = lines.Where(l => l.Text.Trim().Length > 0).ToList();
            var ids = texts.Select(l => Common.Encode(bundle.Tokenizer!, l.Text, s, source, l.Line)).ToList(); // the --max-length check
            Decoded[] decoded = ids.Count == 0 ? [] : model.DecodeMany(ids, max, search, noRepeat, batchSize: Math.Max(1, ids.Count));
            int k = 0;
            foreach (var (text, _) in lines)
            {
                string translation = text.Trim().Length == 0 ? "" : tgtTok.Decode(decoded[k++].Tokens);
                output.WriteLine(json ? Common.JsonLine(w => { w.WriteString("source", text); w.WriteString("translation", translation); }) : translation);
            }
            output.Flush();
            lines.Clear();
        }
        while (input.ReadLine() is { } line)
        {
            lines.Add((line, ++n));
            if (lines.Count >= batch) Flush();
        }
        Flush();
    }
}
