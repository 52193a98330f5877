using System.Diagnostics;
using System.Globalization;
using Recur.Cli.Train;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// What each preset compares its trained model with, on the same split: a bag-of-words logistic regression, the most
/// frequent tag per word, the untrained model, the naive, seasonal-naive and mean forecasts (computed by the forecast task itself). The trained
/// model is read back from the run's model.recur, so each comparison also checks that the file works.
/// </summary>
internal static class Baselines
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static void Line(FormattableString s) => Console.WriteLine(s.ToString(Inv));

    /// <summary>A metric of a run by its plain key, or with the split prefix metrics.json may give it (test_, val_).</summary>
    private static double Metric(IReadOnlyDictionary<string, double> m, string key) =>
        new[] { key, "test_" + key, "val_" + key }.Select(k => m.TryGetValue(k, out double v) ? v : (double?)null).FirstOrDefault(v => v is not null) ?? double.NaN;

    private static string Pct(double fraction, int decimals) => (100 * fraction).ToString("F" + decimals.ToString(Inv), Inv) + "%";

    /// <summary>Sentiment: logistic regression on word-presence vectors, with the run's split and vocabulary.</summary>
    public static void BagOfWords(PresetRun r)
    {
        var s = r.Settings;
        var bundle = r.Model();
        var tok = bundle.Tokenizer!;
        var map = new LabelMap(bundle.Labels!);
        var train = ClassifyTask.Read(s.Str("data"), s);
        var test = ClassifyTask.Read(s.Str("test"), s);
        var (fit, valid) = Common.Split(train.Count, s); // the task's own split of --data
        int v = tok.Vocabulary.Count;
        DenseBatch Batch(List<ClassifyTask.Example> items, int[] idx, string source)
        {
            var x = new Tensor(idx.Length, v);
            for (int k = 0; k < idx.Length; k++)
                foreach (int id in tok.Encode(items[idx[k]].Text)) x.Span[k * v + id] = 1f;
            return new DenseBatch { Inputs = x, Classes = map.Indices(idx.Select(i => (items[i].Label, items[i].Line)), source) };
        }
        var clock = Stopwatch.StartNew();
        var bow = new Mlp(new MlpConfig { Inputs = v, Hidden = [], Outputs = map.Count }, new Rng(r.Seed + 3));
        var validBatch = Batch(train, valid, s.Str("data"));
        var shuffle = new Rng(r.Seed + 4);
        new Trainer<DenseBatch>(new Adam(bow.Parameters(), 5e-3f, weightDecay: 1e-4f), new TrainerOptions { Epochs = 30, EarlyStoppingPatience = 5, LogEvery = 1000 })
            .Fit(bow, _ => Batching.Batches(new int[fit.Length], 32, shuffle, bucket: false).Select(b => Batch(train, b.Select(k => fit[k]).ToArray(), s.Str("data"))),
                () => new Evaluation("accuracy", ClassifierEvaluation.Evaluate(bow, [validBatch]).Accuracy, true));
        var baseline = ClassifierEvaluation.Evaluate(bow, [Batch(test, Enumerable.Range(0, test.Count).ToArray(), s.Str("test"))]);
        var time = clock.Elapsed;

        var rnn = TaskRegistry.Get("classify").Evaluate(bundle, s, s.Str("test"));
        Line($"  vocabulary {v} words (training part), test {test.Count} sentences");
        Line($"  {"model",-40} {"test accuracy",14} {"macro-F1",9}");
        Line($"  {"BiLSTM (recur train --task classify)",-40} {Pct(r.Metrics["test_accuracy"], 1),14} {r.Metrics["test_macro_f1"],9:F3}");
        Line($"  {"bag-of-words logistic regression",-40} {Pct(baseline.Accuracy, 1),14} {baseline.MacroF1,9:F3}   ({ProgressPrinter.Format(time)})");
        var c = rnn.Confusion!;
        Line($"  BiLSTM confusion (rows true {map[0]}/{map[1]}, columns predicted): [[{c[0, 0]}, {c[0, 1]}], [{c[1, 0]}, {c[1, 1]}]]");
        Line($"  model: {Path.Combine(r.Runs[0].Dir, "model.recur")} (recur predict/evaluate)");
    }

    /// <summary>Character LM: validation loss and samples from the trained model, seeded with "ROMEO:\n".</summary>
    public static void Samples(PresetRun r)
    {
        var m = r.Metrics;
        Line($"  validation: {m["val_loss"]:F4} nats/char ({m.GetValueOrDefault("val_bits_per_char", double.NaN):F3} bits/char, perplexity {m["val_perplexity"]:F2})");
        var bundle = r.Model();
        Console.WriteLine("--- sample, temperature 0.5 ---\n" + LmTask.Generate(bundle, "ROMEO:\n", 400, 0.5f, 0, 1f, r.Seed + 7));
        Console.WriteLine("--- sample, temperature 1.0, top-p 0.95 ---\n" + LmTask.Generate(bundle, "ROMEO:\n", 400, 1.0f, 0, 0.95f, r.Seed + 8));
    }

    private static readonly HashSet<string> Ambiguous = ["book", "watch", "run", "play", "fly", "light", "fast"];

    /// <summary>Tagging: the most frequent tag per training word, and the model's accuracy on the ambiguous words.</summary>
    public static void MostFrequentTag(PresetRun r)
    {
        var s = r.Settings;
        var train = Readers.ReadConll(s.Str("data"));
        var test = Readers.ReadConll(s.Str("test"));
        var majority = train.SelectMany(x => x.Tokens.Zip(x.Tags)).GroupBy(p => p.First)
            .ToDictionary(g => g.Key, g => g.GroupBy(p => p.Second).OrderByDescending(h => h.Count()).ThenBy(h => h.Key, StringComparer.Ordinal).First().Key);
        var pairs = test.SelectMany(x => x.Tokens.Zip(x.Tags)).ToList();
        double baseline = pairs.Count(p => majority.GetValueOrDefault(p.First, "NOUN") == p.Second) / (double)pairs.Count;

        var bundle = r.Model();
        var model = (SequenceTagger)bundle.Model;
        var tags = bundle.Labels!;
        var ids = test.Select(x => x.Tokens.Select(bundle.Tokenizer!.Vocabulary.Id).ToArray()).ToList();
        int ok = 0, n = 0;
        using (model.EvaluationMode())
        {
            foreach (var idx in Enumerable.Range(0, test.Count).Chunk(256))
            {
                var pred = model.PredictTags(SequenceBatch.FromTokens(ids, idx));
                for (int k = 0; k < idx.Length; k++)
                    for (int t = 0; t < test[idx[k]].Tokens.Length; t++)
                        if (Ambiguous.Contains(test[idx[k]].Tokens[t])) { n++; if (tags[pred[k][t]] == test[idx[k]].Tags[t]) ok++; }
            }
        }
        Line($"  {"model",-40} {"test token accuracy",20} {"on ambiguous tokens",20}");
        Line($"  {"BiLSTM tagger (recur train --task tag)",-40} {Pct(r.Metrics["test_accuracy"], 2),20} {Pct((n == 0 ? double.NaN : (double)ok / n), 2),20}   ({n} ambiguous tokens)");
        Line($"  {"most frequent tag per word",-40} {Pct(baseline, 2),20} {"-",20}");
    }

    /// <summary>Translation: BLEU, chrF and exact match of greedy and beam decoding (the seq2seq task scores both) and a few examples.</summary>
    public static void Translation(PresetRun r)
    {
        var s = r.Settings;
        var m = r.Metrics;
        string Scores(string suffix) => string.Create(Inv, $"BLEU {Metric(m, "bleu" + suffix):F2}, chrF2 {Metric(m, "chrf" + suffix):F2}, exact match {Metric(m, "exact_match" + suffix):F1}%");
        Line($"  held-out scores (sacreBLEU's BLEU: 13a, exp smoothing; chrF2; against the raw reference text):");
        if (!double.IsNaN(Metric(m, "bleu_greedy"))) Line($"    greedy:   {Scores("_greedy")}");
        Line($"    {(s.Int("beam", 1) > 1 ? $"beam ({s.Int("beam", 1)}):" : "greedy:  ")} {Scores("")}");
        var test = DataFiles.Lines(DataFiles.ReadAllText(s.Str("test"))).Where(l => l.Length > 0).Take(8).Select(l => l.Split('\t')).ToList();
        var output = new StringWriter();
        Seq2SeqTask.Translate(r.Model(), s, new StringReader(string.Join('\n', test.Select(p => p[0]))), s.Str("test"), output, json: false, s.Int("beam", 1));
        var translations = DataFiles.Lines(output.ToString());
        for (int i = 0; i < test.Count; i++) Console.WriteLine($"  {test[i][0]}\n    reference: {test[i][1]}\n    beam:      {translations[i]}");
    }

    /// <summary>Speech: the test accuracy and the confusion matrix, from the saved model through the audio task's evaluate.</summary>
    public static void Confusion(PresetRun r)
    {
        var s = r.Settings;
        var bundle = r.Model();
        var outcome = TaskRegistry.Get("audio").Evaluate(bundle, s, s.Str("test"));
        var labels = bundle.Labels!;
        var c = outcome.Confusion!;
        int total = 0, right = 0;
        for (int i = 0; i < labels.Count; i++) for (int j = 0; j < labels.Count; j++) { total += c[i, j]; if (i == j) right += c[i, j]; }
        Line($"  test accuracy {Pct(outcome.Metrics["accuracy"], 2)} ({right}/{total}), macro-F1 {outcome.Metrics["macro_f1"]:F4}");
        Console.WriteLine("  confusion matrix (rows: spoken digit, columns: predicted):");
        Console.WriteLine("        " + string.Concat(labels.Select(l => $"{l,4}")));
        for (int i = 0; i < labels.Count; i++) Console.WriteLine($"   {labels[i],4} " + string.Concat(Enumerable.Range(0, labels.Count).Select(j => $"{c[i, j],4}")));
    }

    /// <summary>Music: the same task with learning rate 0 (the untrained model), and MIDI samples of the trained one.</summary>
    public static void UntrainedMusic(PresetRun r)
    {
        var options = new Dictionary<string, string>(r.Options) { ["lr"] = "0", ["epochs"] = "1" };
        if (r.Train(options, Path.Combine(r.Dir, "untrained")) != 0) throw new InvalidOperationException("the untrained baseline run failed");
        var untrained = r.Runs[^1].Metrics;
        var m = r.Metrics;
        Line($"  negative log-likelihood per frame (nats, summed over the keys of --pitch-range {r.Settings.Str("pitch-range")}):");
        Line($"    untrained model, held-out pieces   {Metric(untrained, "nll_per_frame"),8:F3}");
        Line($"    trained, training pieces           {m["train_nll_per_frame"],8:F3}");
        Line($"    trained, held-out pieces           {Metric(m, "nll_per_frame"),8:F3}");
        var bundle = r.Model();
        var pieces = PianoRoll.ScalesAndArpeggios();
        Piece Start(int condition) => new(pieces.First(p => p.Condition == condition).Piece.Steps[..4]);
        var rng = r.Seed + 1;
        foreach (var (name, seed, temperature) in new[] { ("c-major-greedy", (Piece?)Start(0), 0f), ("sampled", null, 1f), ("f-minor-held-out-greedy", Start(Presets.HeldOutConditions[0]), 0f) })
        {
            var piece = MusicTask.Generate(bundle, seed, 32, temperature, rng++);
            string path = Path.Combine(r.Dir, name + ".mid");
            Midi.Write(path, piece);
            Console.WriteLine($"  {name}: {MusicTask.Show(piece)} ...  -> {path}");
        }
    }

    /// <summary>Forecast: the LSTM's test RMSE/MAE, mean ± sd over its seeds (--seeds), beside the naive, seasonal-naive and mean forecasts.</summary>
    public static void Naive(PresetRun r)
    {
        var m = r.Metrics;
        int seeds = r.Settings.Int("seeds", 1);
        string F(string key) => Metric(m, key).ToString("F3", Inv);
        string model = seeds > 1 ? $"RMSE {F("rmse_mean")} ± {F("rmse_sd")} (MAE {F("mae_mean")} ± {F("mae_sd")}) over {seeds} seeds" : $"RMSE {F("rmse")} (MAE {F("mae")}), one seed";
        Line($"  LSTM {model}");
        Line($"  naive RMSE {F("naive_rmse")} (MAE {F("naive_mae")}) | seasonal-naive (m={r.Options["season"]}) RMSE {F("seasonal_naive_rmse")} (MAE {F("seasonal_naive_mae")}) | mean of the training part RMSE {F("mean_rmse")} (MAE {F("mean_mae")})");
    }
}
