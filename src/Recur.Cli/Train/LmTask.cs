namespace Recur.Cli.Train;

/// <summary>Next-token prediction on a plain text (character, word or BPE), trained with truncated BPTT over streams.</summary>
internal static class LmTask
{
    public static readonly TaskDef Def = new(Train, Evaluate, Predict);

    private static TaskOutcome? Train(RunContext ctx)
    {
        var s = ctx.Settings;
        string dataPath = s.Str("data");
        string text = DataFiles.ReadAllText(dataPath, s.Limits);
        if (s.Int("max-rows", 0) is > 0 and var rows && DataFiles.Lines(text) is var lines && lines.Count > rows)
            text = string.Concat(lines.Take(rows).Select(l => l + "\n"));
        string trainText, validText;
        if (s.Optional("valid") is { } vp) { trainText = text; validText = DataFiles.ReadAllText(vp, s.Limits); }
        else
        {
            // Language models validate on the end of the text (a contiguous held-out part), not on a random sample.
            int cut = (int)(text.Length * (1 - s.Float("valid-fraction", 0f, 0.9f)));
            trainText = text[..cut];
            validText = text[cut..];
        }
        var tok = Common.BuildTokenizer(s, [trainText], "char");
        var trainIds = tok.Encode(trainText);
        var validIds = tok.Encode(validText);
        int batch = s.Int("batch-size", 1), steps = s.Int("bptt", 1);
        if (trainIds.Length < batch * 2 + 1)
            throw new RecurFormatException(dataPath, "file", $"expected at least {batch * 2 + 1} tokens to train {batch} streams, found {trainIds.Length}");
        var train = new TbpttStream(trainIds, batch, steps);
        TbpttStream? valid = validIds.Length >= 2 ? TbpttStream.ForEvaluation(validIds, batch, steps) : null;
        ctx.CheckMemory(Common.EncoderMemory(s, Common.Encoder(s, tok.Vocabulary.Count, null), steps, batch, tok.Vocabulary.Count, perStep: true),
            $"{batch} streams x {steps} steps");
        ctx.PrintConfig($"{trainIds.Length} training / {validIds.Length} validation tokens, vocabulary {tok.Vocabulary.Count} ({tok.Kind}), {batch} streams x {steps} steps ({train.Chunks} chunks per epoch)");

        var model = new LanguageModel(new LanguageModelConfig { Encoder = Common.Encoder(s, tok.Vocabulary.Count, null) }, Common.ModelRng(s));
        bool chars = tok.Kind == "char";
        var probe = Common.Probe(model, train.Enumerate().First(), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.Fit(model, _ => train.Enumerate(), train.Chunks, valid is null ? null : () =>
        {
            double nats = model.Evaluate(valid);
            var others = new Dictionary<string, double> { ["perplexity"] = Metrics.Perplexity(nats) };
            if (chars) others["bits_per_char"] = Metrics.BitsPerCharacter(nats);
            return new Evaluation("loss", nats, false, others);
        }, shuffle: null);
        if (ctx.Cancelled) return null;

        var bundle = new ModelBundle { Model = model, Tokenizer = tok };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : valid is not null ? Score(model, tok, valid) : new TaskOutcome { Bundle = bundle };
        var rng = new Rng(s.Seed + 3);
        string prompt = validText.Length > 0 ? validText[..Math.Min(validText.Length, 20)] : trainText[..Math.Min(trainText.Length, 20)];
        var samples = new List<(string, string, string)>();
        foreach (float temperature in new[] { 0.5f, 1.0f })
        {
            var ids = model.Generate(tok.Encode(prompt), 200, temperature, 0, 1f, rng);
            samples.Add(($"prompt \"{prompt}\", temperature {temperature}", "", tok.Decode(ids)));
        }
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Samples = samples,
            GradientProbe = probe, Split = TaskOutcome.SplitOf(s),
        };
    }

    private static TaskOutcome Score(LanguageModel model, ITokenizer tok, TbpttStream stream)
    {
        double nats = model.Evaluate(stream);
        var m = new Dictionary<string, double> { ["loss"] = nats, ["perplexity"] = Metrics.Perplexity(nats) };
        if (tok.Kind == "char") m["bits_per_char"] = Metrics.BitsPerCharacter(nats);
        return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m };
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var tok = bundle.Tokenizer!;
        var ids = tok.Encode(DataFiles.ReadAllText(path, s.Limits));
        if (ids.Length < 2) throw new RecurFormatException(path, "file", $"expected at least 2 tokens to evaluate next-token prediction, found {ids.Length}");
        return Score((LanguageModel)bundle.Model, tok, TbpttStream.ForEvaluation(ids, s.Int("batch-size", 1), s.Int("bptt", 1)));
    }

    /// <summary>predict for a language model: the most likely next token after each input line.</summary>
    private static void Predict(ModelBundle bundle, Settings s, TextReader input, string source, TextWriter output, bool json)
    {
        var tok = bundle.Tokenizer!;
        foreach (var (text, line) in Common.InputLines(input))
        {
            Common.Encode(tok, text, s, source, line); // the empty and --max-length checks
            var top = bundle.NextTokens(text, 5);
            if (!json) { output.WriteLine(string.Join('\t', top.Select(t => $"{t.Token}:{Common.F(t.Probability)}"))); continue; }
            output.WriteLine(Common.JsonLine(w =>
            {
                w.WriteString("text", text);
                w.WriteStartArray("next");
                foreach (var t in top) { w.WriteStartObject(); w.WriteString("token", t.Token); w.WriteNumber("probability", Math.Round(t.Probability, 6)); w.WriteEndObject(); }
                w.WriteEndArray();
            }));
        }
    }

    /// <summary>recur generate for a language model (<see cref="ModelBundle.GenerateText"/>).</summary>
    public static string Generate(ModelBundle bundle, string prompt, int length, float temperature, int topK, float topP, ulong seed) =>
        bundle.GenerateText(prompt, length, temperature, topK, topP, seed);
}
