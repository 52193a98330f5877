using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// Spoken digits ("voice search") on FSDD: MFCC frames from the WAV files, a bidirectional GRU classifier, the
/// official split (takes 0-4 of each speaker and digit are the test set).
/// </summary>
internal static class SpeechExperiment
{
    public sealed record Options(string DataDir, ulong Seed = 42, int Epochs = 30, int Hidden = 64, RecurrentMode Cell = RecurrentMode.Gru, string? Output = null);

    public sealed record Result(int Train, int Test, double Accuracy, double MacroF1, int[,] Confusion, TimeSpan FeatureTime, TimeSpan TrainTime);

    public sealed record Example(float[] Frames, int Steps, int Digit, string Speaker, int Take);

    /// <summary>Reads every recording and computes its MFCC frames; the label and take come from the file name.</summary>
    public static List<Example> Load(string recordings, FeatureOptions options, int? limit = null)
    {
        var files = Directory.GetFiles(recordings, "*.wav*").OrderBy(f => f, StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new FileNotFoundException($"no .wav or .wav.gz files in {recordings}");
        if (limit is { } l) files = files.Where((_, i) => i % Math.Max(1, files.Count / l) == 0).Take(l).ToList();
        AudioFeatures? features = null;
        var result = new List<Example>();
        foreach (var f in files)
        {
            string name = Path.GetFileName(f);
            var parts = name.Split('.')[0].Split('_');
            if (parts.Length != 3 || !int.TryParse(parts[0], out int digit) || !int.TryParse(parts[2], out int take))
                throw new Recur.RecurFormatException(f, "file name", $"expected '<digit>_<speaker>_<take>.wav[.gz]', found '{name}'");
            var audio = Wav.Read(f);
            features ??= new AudioFeatures(audio.SampleRate, options);
            if (audio.SampleRate != features.SampleRate)
                throw new Recur.RecurFormatException(f, "'fmt ' field 'sample rate'", $"expected {features.SampleRate} Hz like the other files, found {audio.SampleRate}");
            var frames = features.Compute(audio.Samples);
            result.Add(new Example(frames, frames.Length / features.Width, digit, parts[1], take));
        }
        return result;
    }

    public static Result Run(Options o, bool verbose = true)
    {
        var clock = Stopwatch.StartNew();
        var options = new FeatureOptions { Coefficients = 13, MelBands = 40 };
        var all = Load(Path.Combine(o.DataDir, "recordings"), options);
        var featureTime = clock.Elapsed;
        int width = options.Coefficients;
        var test = all.Where(e => e.Take <= 4).ToList();
        var trainAll = all.Where(e => e.Take > 4).ToList();
        // A seeded 10% of the training takes validates (best epoch); the official test set is touched once.
        var (fitIdx, validIdx) = Batching.Split(trainAll.Count, 0.9, new Rng(o.Seed));
        var fit = fitIdx.Select(i => trainAll[i]).ToList();
        var valid = validIdx.Select(i => trainAll[i]).ToList();

        // Per-coefficient standardisation with statistics of the training frames only.
        var mean = new double[width];
        var sq = new double[width];
        long count = 0;
        foreach (var e in fit)
            for (int t = 0; t < e.Steps; t++, count++)
                for (int c = 0; c < width; c++) { double v = e.Frames[t * width + c]; mean[c] += v; sq[c] += v * v; }
        var std = new double[width];
        for (int c = 0; c < width; c++) { mean[c] /= count; std[c] = Math.Sqrt(Math.Max(1e-12, sq[c] / count - mean[c] * mean[c])); }
        SequenceBatch Batch(IReadOnlyList<Example> items)
        {
            int steps = items.Max(e => e.Steps);
            var x = new Tensor(items.Count, steps, width);
            for (int i = 0; i < items.Count; i++)
                for (int t = 0; t < items[i].Steps; t++)
                    for (int c = 0; c < width; c++)
                        x.Span[(i * steps + t) * width + c] = (float)((items[i].Frames[t * width + c] - mean[c]) / std[c]);
            return new SequenceBatch { Features = x, Lengths = items.Select(e => e.Steps).ToArray(), Steps = steps, Targets = items.Select(e => e.Digit).ToArray() };
        }
        if (verbose)
            Console.WriteLine($"speech: {all.Count} recordings ({all.Sum(e => e.Steps)} MFCC frames of {width}, {ProgressPrinter.Format(featureTime)}), " +
                              $"official split: train {trainAll.Count} (validation {valid.Count} of them) / test {test.Count}");

        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = width, Cell = o.Cell, HiddenSize = o.Hidden, Bidirectional = true, Layers = 2, Dropout = 0.2f },
            Pooling = Pooling.Mean,
            Classes = 10,
        }, new Rng(o.Seed + 1));
        var batchRng = new Rng(o.Seed + 2);
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 2e-3f), new TrainerOptions { Epochs = o.Epochs, EarlyStoppingPatience = 8, LogEvery = 50 },
            new CosineWarmupSchedule(2e-3f, 50, (long)o.Epochs * ((fit.Count + 31) / 32), 1e-4f));
        if (verbose) ProgressPrinter.Attach(trainer);
        clock.Restart();
        trainer.Fit(model, _ => Batching.Batches(fit.Select(e => e.Steps).ToArray(), 32, batchRng).Select(b => Batch(b.Select(i => fit[i]).ToList())),
            () => { var (acc, f1, _) = Evaluate(model, valid, Batch); return new Evaluation("accuracy", acc, true, new Dictionary<string, double> { ["macro_f1"] = f1 }); });
        var trainTime = clock.Elapsed;
        var (accuracy, macroF1, confusion) = Evaluate(model, test, Batch);
        if (verbose)
        {
            Console.WriteLine($"test accuracy {accuracy:P2}, macro-F1 {macroF1:F4} on {test.Count} recordings (training {ProgressPrinter.Format(trainTime)})");
            Console.WriteLine("confusion matrix (rows: spoken digit, columns: predicted):");
            Console.WriteLine("      " + string.Concat(Enumerable.Range(0, 10).Select(d => $"{d,4}")));
            for (int r = 0; r < 10; r++) Console.WriteLine($"   {r}  " + string.Concat(Enumerable.Range(0, 10).Select(c => $"{confusion[r, c],4}")));
        }
        if (o.Output is not null)
        {
            string path = Path.Combine(o.Output, "speech-digits.safetensors");
            IO.ModelFile.Save(path, new IO.ModelBundle
            {
                Model = model, Labels = Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList(),
                Metadata = new Dictionary<string, string>
                {
                    ["task"] = "audio", ["features"] = "mfcc13-mel40-25ms-10ms", ["test_accuracy"] = IO.ModelFile.Format(accuracy),
                    ["feature_mean"] = string.Join(",", mean.Select(IO.ModelFile.Format)), ["feature_std"] = string.Join(",", std.Select(IO.ModelFile.Format)),
                },
            });
            if (verbose) Console.WriteLine($"saved {path}");
        }
        return new Result(trainAll.Count, test.Count, accuracy, macroF1, confusion, featureTime, trainTime);
    }

    private static (double Accuracy, double MacroF1, int[,] Confusion) Evaluate(SequenceClassifier model, List<Example> data, Func<IReadOnlyList<Example>, SequenceBatch> batch)
    {
        var pred = new List<int>();
        using (model.EvaluationMode())
            foreach (var chunk in data.Chunk(128)) pred.AddRange(SentimentExperiment.Predictions(model.Predict(batch(chunk)), 10));
        var truth = data.Select(e => e.Digit).ToArray();
        var p = pred.ToArray();
        return (Metrics.Accuracy(p, truth), Metrics.MacroF1(p, truth, 10), Metrics.ConfusionMatrix(p, truth, 10));
    }
}
