using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// Sentiment on the UCI sentences (yelp + amazon + imdb): a seeded 80/20 split, a bidirectional LSTM classifier
/// against a bag-of-words logistic regression trained on the same split.
/// </summary>
internal static class SentimentExperiment
{
    public sealed record Options(string DataDir, ulong Seed = 42, int Epochs = 12, int Hidden = 64, int Embedding = 100, float Dropout = 0.4f,
        RecurrentMode Cell = RecurrentMode.Lstm, Pooling Pooling = Pooling.Max, int Batch = 32, float LearningRate = 2e-3f, string? Output = null);

    public sealed record Result(double TestAccuracy, double TestMacroF1, int[,] Confusion, double BowAccuracy, double BowMacroF1,
        TimeSpan RnnTime, TimeSpan BowTime, int Train, int Validation, int Test, int Vocabulary);

    public static Result Run(Options o, bool verbose = true)
    {
        var files = new[] { "yelp_labelled.txt", "amazon_cells_labelled.txt", "imdb_labelled.txt" };
        var examples = new List<LabeledText>();
        foreach (var f in files)
        {
            string path = Path.Combine(o.DataDir, f);
            foreach (var e in Readers.ReadLabeledTsv(path))
            {
                if (e.Label is not ("0" or "1"))
                    throw new Recur.RecurFormatException(path, $"line {e.Line} field 'label'", $"expected 0 or 1, found '{e.Label}'");
                examples.Add(e);
            }
        }
        var (trainAll, test) = Batching.Split(examples.Count, 0.8, new Rng(o.Seed));
        var (train, valid) = (trainAll[..(int)(trainAll.Length * 0.9)], trainAll[(int)(trainAll.Length * 0.9)..]);
        var tokenizer = WordTokenizer.Build(train.Select(i => examples[i].Text), lowercase: true);
        var ids = examples.Select(e => tokenizer.Encode(e.Text)).ToList();
        var labels = examples.Select(e => e.Label == "1" ? 1 : 0).ToArray();
        if (verbose)
            Console.WriteLine($"sentiment: {examples.Count} sentences, train {train.Length} / validation {valid.Length} / test {test.Length} (seed {o.Seed}), vocabulary {tokenizer.Vocabulary.Count} words");

        // The recurrent classifier.
        var rng = new Rng(o.Seed + 1);
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig
            {
                VocabularySize = tokenizer.Vocabulary.Count, EmbeddingDim = o.Embedding, Cell = o.Cell, HiddenSize = o.Hidden,
                Bidirectional = true, Dropout = o.Dropout,
            },
            Pooling = o.Pooling,
            Classes = 2,
        }, rng);
        SequenceBatch Batch(int[] idx) => SequenceBatch.FromTokens(ids, idx, idx.Select(i => labels[i]).ToArray());
        var batchRng = new Rng(o.Seed + 2);
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), o.LearningRate),
            new TrainerOptions { Epochs = o.Epochs, EarlyStoppingPatience = 4, LogEvery = 25 });
        if (verbose) ProgressPrinter.Attach(trainer);
        var clock = Stopwatch.StartNew();
        trainer.Fit(model,
            epoch => Batching.Batches(train.Select(i => ids[i].Length).ToArray(), o.Batch, batchRng).Select(b => Batch(b.Select(k => train[k]).ToArray())),
            () => { var (acc, f1, _) = Evaluate(model, ids, labels, valid); return new Evaluation("accuracy", acc, true, new Dictionary<string, double> { ["macro_f1"] = f1 }); });
        var rnnTime = clock.Elapsed;
        var (testAcc, testF1, confusion) = Evaluate(model, ids, labels, test);

        // Bag-of-words baseline: logistic regression on word presence, same split and vocabulary.
        clock.Restart();
        int v = tokenizer.Vocabulary.Count;
        Tensor Bow(int[] idx)
        {
            var x = new Tensor(idx.Length, v);
            for (int k = 0; k < idx.Length; k++)
                foreach (int id in ids[idx[k]]) x.Span[k * v + id] = 1f;
            return x;
        }
        var bow = new Mlp(new MlpConfig { Inputs = v, Hidden = [], Outputs = 2 }, new Rng(o.Seed + 3));
        var bowTrainer = new Trainer<DenseBatch>(new Adam(bow.Parameters(), 5e-3f, weightDecay: 1e-4f),
            new TrainerOptions { Epochs = 30, EarlyStoppingPatience = 5, LogEvery = 1000 });
        var bowRng = new Rng(o.Seed + 4);
        var validBow = Bow(valid);
        (double, double) BowEval(Tensor x, int[] idx)
        {
            var pred = Predictions(bow.Forward(x), 2);
            var truth = idx.Select(i => labels[i]).ToArray();
            return (Metrics.Accuracy(pred, truth), Metrics.MacroF1(pred, truth, 2));
        }
        bowTrainer.Fit(bow,
            epoch => Batching.Batches(new int[train.Length], o.Batch, bowRng, bucket: false)
                .Select(b => { var idx = b.Select(k => train[k]).ToArray(); return new DenseBatch { Inputs = Bow(idx), Classes = idx.Select(i => labels[i]).ToArray() }; }),
            () => new Evaluation("accuracy", BowEval(validBow, valid).Item1, true));
        var (bowAcc, bowF1) = BowEval(Bow(test), test);
        var bowTime = clock.Elapsed;

        var result = new Result(testAcc, testF1, confusion, bowAcc, bowF1, rnnTime, bowTime, train.Length, valid.Length, test.Length, v);
        if (o.Output is not null)
        {
            string path = Path.Combine(o.Output, "sentiment.safetensors");
            IO.ModelFile.Save(path, new IO.ModelBundle
            {
                Model = model, Tokenizer = tokenizer, Labels = ["negative", "positive"],
                Metadata = new Dictionary<string, string> { ["task"] = "classify", ["seed"] = o.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), ["test_accuracy"] = IO.ModelFile.Format(testAcc) },
            });
            if (verbose) Console.WriteLine($"saved {path}");
        }
        if (verbose)
        {
            Console.WriteLine($"test accuracy: BiLSTM {testAcc:P1} (macro-F1 {testF1:F3}, trained in {ProgressPrinter.Format(rnnTime)}), " +
                              $"bag-of-words logistic regression {bowAcc:P1} (macro-F1 {bowF1:F3}, {ProgressPrinter.Format(bowTime)})");
            Console.WriteLine($"confusion (rows true 0/1, columns predicted 0/1): [[{confusion[0, 0]}, {confusion[0, 1]}], [{confusion[1, 0]}, {confusion[1, 1]}]]");
        }
        return result;
    }

    private static (double Accuracy, double MacroF1, int[,] Confusion) Evaluate(SequenceClassifier model, List<int[]> ids, int[] labels, int[] idx)
    {
        var pred = new List<int>();
        using (model.EvaluationMode())
            foreach (var chunk in idx.Chunk(256))
                pred.AddRange(Predictions(model.Predict(SequenceBatch.FromTokens(ids, chunk)), 2));
        var truth = idx.Select(i => labels[i]).ToArray();
        var p = pred.ToArray();
        return (Metrics.Accuracy(p, truth), Metrics.MacroF1(p, truth, 2), Metrics.ConfusionMatrix(p, truth, 2));
    }

    internal static int[] Predictions(Tensor scores, int classes)
    {
        var p = new int[scores.Dim(0)];
        for (int i = 0; i < p.Length; i++) p[i] = TensorPrimitives.IndexOfMax(scores.Span.Slice(i * classes, classes));
        return p;
    }
}
