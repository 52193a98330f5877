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
        bool sentences = Common.TokenizerKind(s, "char") == "ptb";
        // One sentence per line: the last line of a file ends its sentence (an <eos>) whether or not a newline follows.
        if (sentences) text = Sentences(text);
        string trainText, validText;
        if (s.Optional("valid") is { } vp) { trainText = text; validText = DataFiles.ReadAllText(vp, s.Limits); }
        else
        {
            // Language models validate on the end of the text (a contiguous held-out part), not on a random sample;
            // sentence files are cut between lines.
            int cut = (int)(text.Length * (1 - s.Float("valid-fraction", 0f, 0.9f)));
            if (sentences && cut > 0 && cut < text.Length) cut = text.IndexOf('\n', cut - 1) + 1 is > 0 and var c ? c : text.Length;
            trainText = text[..cut];
            validText = text[cut..];
        }
        if (sentences) validText = Sentences(validText);
        bool tie = s.Bool("tie-embeddings");
        if (tie && s.Int("embedding", 1) != s.Int("hidden", 1))
            throw new ArgumentException($"--tie-embeddings: the output layer shares the embedding matrix, so --embedding must equal --hidden (the last layer's width); found --embedding {s.Int("embedding", 1)} and --hidden {s.Int("hidden", 1)}");
        var tok = Common.BuildTokenizer(s, [trainText], "char");
        var trainIds = tok.Encode(trainText);
        var validIds = tok.Encode(validText);
        int batch = s.Int("batch-size", 1), steps = s.Int("bptt", 1);
        if (trainIds.Length < batch * 2 + 1)
            throw new RecurFormatException(dataPath, "file", $"expected at least {batch * 2 + 1} tokens to train {batch} streams, found {trainIds.Length}");
        var train = new TbpttStream(trainIds, batch, steps);
        // Data-parallel (mpirun): the B parallel streams are split between the ranks; rank r trains streams lo..lo+n-1,
        // the same tokens one process would train them on (each stream is StreamLength tokens of the text).
        var (lo, mine) = DataParallel.Range(batch);
        if (mine == 0)
            throw new ArgumentException($"--batch-size: {batch} parallel streams cannot be split between {DataParallel.Size} ranks; give at least {DataParallel.Size}");
        var shard = DataParallel.Size == 1 ? train : new TbpttStream(trainIds[(lo * train.StreamLength)..((lo + mine) * train.StreamLength + 1)], mine, steps);
        TbpttStream? valid = validIds.Length >= 2 ? TbpttStream.ForEvaluation(validIds, batch, steps) : null;
        ctx.CheckMemory(Common.EncoderMemory(s, Common.Encoder(s, tok.Vocabulary.Count, null), steps, batch, tok.Vocabulary.Count, perStep: true),
            $"{batch} streams x {steps} steps");
        ctx.PrintConfig($"{trainIds.Length} training / {validIds.Length} validation tokens, vocabulary {tok.Vocabulary.Count} ({tok.Kind}), {batch} streams x {steps} steps ({train.Chunks} chunks per epoch)");

        var model = new LanguageModel(new LanguageModelConfig { Encoder = Common.Encoder(s, tok.Vocabulary.Count, null), TieEmbeddings = tie }, Common.ModelRng(s));
        bool chars = tok.Kind == "char";
        var probe = Common.Probe(model, shard.Enumerate().First(), model.Step);
        ctx.ProbeAtStart(probe);
        ctx.ItemUnit = "tok/s";
        // Training throughput: tokens of the chunks trained on (not those a resumed epoch replays past) over the time of
        // the training loop, validation left out.
        var counted = new TokenCounter(model, batch);
        var validation = new System.Diagnostics.Stopwatch();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        ctx.Fit(counted, _ => shard.Enumerate(), train.Chunks, valid is null ? null : () =>
        {
            validation.Start();
            double nats = model.Evaluate(valid);
            validation.Stop();
            var others = new Dictionary<string, double> { ["perplexity"] = Metrics.Perplexity(nats) };
            if (chars) others["bits_per_char"] = Metrics.BitsPerCharacter(nats);
            return new Evaluation("loss", nats, false, others);
        }, shuffle: null, streams: (lo, mine, batch));
        clock.Stop();
        if (ctx.Cancelled) return null;

        var bundle = new ModelBundle { Model = model, Tokenizer = tok };
        var outcome = s.Optional("test") is { } tp ? Evaluate(bundle, s, tp) : valid is not null ? Score(model, tok, valid) : new TaskOutcome { Bundle = bundle };
        var throughput = new Dictionary<string, double>();
        double seconds = (clock.Elapsed - validation.Elapsed).TotalSeconds;
        if (counted.Tokens > 0 && seconds > 0) throughput["train_tokens_per_second"] = counted.Tokens / seconds;
        var rng = new Rng(s.Seed + 3);
        var samples = new List<(string, string, string)>();
        var promptIds = Prompt(tok, validText.Length > 0 ? validText : trainText);
        string prompt = tok.Decode(promptIds);
        foreach (float temperature in new[] { 0.5f, 1.0f })
        {
            var ids = model.Generate(promptIds, 200, temperature, 0, 1f, rng);
            samples.Add(($"prompt \"{prompt}\", temperature {temperature}", "", Tokenizers.Continue(tok, prompt, ids)));
        }
        return new TaskOutcome
        {
            Bundle = bundle, Metrics = outcome.Metrics, Facts = throughput, Samples = samples,
            GradientProbe = probe, Split = TaskOutcome.SplitOf(s),
        };
    }

    /// <summary>The language model as the trainer sees it, counting the tokens of the chunks it trains on (of all <paramref name="streams"/> streams, when the ranks share them).</summary>
    private sealed class TokenCounter(LanguageModel model, int streams) : ITrainable<StreamChunk>
    {
        public long Tokens { get; private set; }
        public Module Model => model;

        public BatchLoss Step(StreamChunk batch, bool backward)
        {
            if (backward) Tokens += (long)streams * batch.Steps;
            return model.Step(batch, backward);
        }

        public int? ItemCount(StreamChunk batch) => model.ItemCount(batch);
        public void StartEpoch(int epoch) => model.StartEpoch(epoch);
        public IReadOnlyDictionary<string, Tensor> CaptureState() => model.CaptureState();
        public void RestoreState(IReadOnlyDictionary<string, Tensor> state) => model.RestoreState(state);
    }

    /// <summary>The text with a newline after its last line (so a sentence file's last line ends with its &lt;eos&gt;).</summary>
    private static string Sentences(string text) => text.Length == 0 || text.EndsWith('\n') ? text : text + "\n";

    /// <summary>
    /// The report's sample prompt: the first 20 characters of a character (or BPE) text, the first 8 tokens of a word
    /// text (for sentence files: the first half, at most 8 words, of its first sentence with more than one word).
    /// </summary>
    internal static int[] Prompt(ITokenizer tok, string text)
    {
        if (tok.Kind is not ("word" or "ptb"))
        {
            var ids = tok.Encode(text[..Math.Min(text.Length, 20)]);
            return ids.Length > 0 ? ids : [tok.Vocabulary.UnkId];
        }
        var all = tok.Encode(text[..Math.Min(text.Length, 4096)]);
        if (tok is PtbTokenizer ptb)
        {
            int start = 0;
            for (int i = 0; i < all.Length; i++)
            {
                if (all[i] != ptb.EosId) continue;
                if (i - start > 1) return all[start..(start + Math.Min(8, (i - start + 1) / 2))];
                start = i + 1;
            }
            all = all[start..];
        }
        return all.Length > 0 ? all[..Math.Min(all.Length, 8)] : [tok.Vocabulary.UnkId];
    }

    private static TaskOutcome Score(LanguageModel model, ITokenizer tok, TbpttStream stream)
    {
        var (nats, tokens) = model.Score(stream);
        var m = new Dictionary<string, double> { ["loss"] = nats, ["perplexity"] = Metrics.Perplexity(nats), ["tokens"] = tokens };
        if (tok.Kind == "char") m["bits_per_char"] = Metrics.BitsPerCharacter(nats);
        return new TaskOutcome { Bundle = new ModelBundle { Model = model }, Metrics = m };
    }

    private static TaskOutcome Evaluate(ModelBundle bundle, Settings s, string path)
    {
        var tok = bundle.Tokenizer!;
        string text = DataFiles.ReadAllText(path, s.Limits);
        if (tok.Kind == "ptb") text = Sentences(text);
        var ids = tok.Encode(text);
        if (ids.Length < 2) throw new RecurFormatException(path, "file", $"expected at least 2 tokens to evaluate next-token prediction, found {ids.Length}");
        var outcome = Score((LanguageModel)bundle.Model, tok, TbpttStream.ForEvaluation(ids, s.Int("batch-size", 1), s.Int("bptt", 1)));
        // Scored tokens: every token but the first; of them, how many are the unknown token (the out-of-vocabulary rate).
        outcome.Metrics["unk_tokens"] = ids.Skip(1).Count(id => id == tok.Vocabulary.UnkId);
        return outcome;
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
