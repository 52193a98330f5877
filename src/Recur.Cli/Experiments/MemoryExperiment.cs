using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// RNN versus feed-forward on tasks that need memory: the delayed echo (per step: output the input from d steps ago)
/// and the order task (did A come before B?). The feed-forward models see what a one-to-one model can see: the
/// current input, or the unordered bag of the sequence's symbols.
/// </summary>
internal static class MemoryExperiment
{
    public sealed record Result(double EchoRnn, double EchoMlp, double EchoChance, double OrderRnn, double OrderBagMlp, double OrderWindowMlp);

    public static Result Run(ulong seed = 42, bool verbose = true, int epochs = 6)
    {
        const int symbols = 8, length = 20, delay = 3;
        // Delayed echo.
        var (ex, ey) = Synthetic.DelayedEcho(3000, length, symbols, delay, new Rng(seed));
        var (tx, ty) = Synthetic.DelayedEcho(500, length, symbols, delay, new Rng(seed + 1));
        var tagger = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = symbols + 2, EmbeddingDim = 16, HiddenSize = 32, Cell = RecurrentMode.Gru },
            Tags = symbols,
        }, new Rng(seed + 2));
        // Token ids are shifted by 2 to keep <pad> = 0 and <unk> = 1 free.
        var exIds = ex.Select(s => s.Select(v => v + 2).ToArray()).ToList();
        var txIds = tx.Select(s => s.Select(v => v + 2).ToArray()).ToList();
        var rng = new Rng(seed + 3);
        new Trainer<SequenceBatch>(new Adam(tagger.Parameters(), 1e-2f), new TrainerOptions { Epochs = epochs, LogEvery = 1_000_000 })
            .Fit(tagger, _ => Batching.Batches(new int[exIds.Count], 32, rng, bucket: false).Select(b =>
            {
                var batch = SequenceBatch.FromTokens(exIds, b);
                return new SequenceBatch { Tokens = batch.Tokens, Lengths = batch.Lengths, Steps = batch.Steps, Targets = SequenceTagger.PadTargets(ey, b, batch.Steps) };
            }));
        tagger.Training = false;
        var tags = tagger.PredictTags(SequenceBatch.FromTokens(txIds, Enumerable.Range(0, txIds.Count).ToArray()));
        double echoRnn = StepAccuracy(tags, ty);

        // One-to-one MLP: step t's one-hot input only.
        var mlp = new Mlp(new MlpConfig { Inputs = symbols, Hidden = [32], Outputs = symbols }, new Rng(seed + 4));
        DenseBatch Steps(int[][] x, int[][] y)
        {
            var rows = x.SelectMany((s, i) => Enumerable.Range(delay, length - delay).Select(t => (s[t], y[i][t]))).ToArray();
            var inputs = new Tensor(rows.Length, symbols);
            for (int r = 0; r < rows.Length; r++) inputs.Span[r * symbols + rows[r].Item1] = 1f;
            return new DenseBatch { Inputs = inputs, Classes = rows.Select(p => p.Item2).ToArray() };
        }
        var echoTrain = Steps(ex, ey);
        new Trainer<DenseBatch>(new Adam(mlp.Parameters(), 1e-2f), new TrainerOptions { Epochs = 30, LogEvery = 1_000_000 }).Fit(mlp, _ => [echoTrain]);
        var echoTest = Steps(tx, ty);
        double echoMlp = Metrics.Accuracy(Predictions(mlp.Forward(echoTest.Inputs), symbols), echoTest.Classes);

        // Order task: LSTM classifier vs MLPs on the bag of symbols and on the whole one-hot window.
        var (ox, oy) = Synthetic.OrderTask(3000, length, symbols, new Rng(seed + 5));
        var (vx, vy) = Synthetic.OrderTask(500, length, symbols, new Rng(seed + 6));
        var oxIds = ox.Select(s => s.Select(v => v + 2).ToArray()).ToList();
        var vxIds = vx.Select(s => s.Select(v => v + 2).ToArray()).ToList();
        var clf = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = symbols + 2, EmbeddingDim = 16, HiddenSize = 32 },
            Classes = 2,
        }, new Rng(seed + 7));
        new Trainer<SequenceBatch>(new Adam(clf.Parameters(), 1e-2f), new TrainerOptions { Epochs = epochs * 2, LogEvery = 1_000_000 })
            .Fit(clf, _ => Batching.Batches(new int[oxIds.Count], 32, rng, bucket: false).Select(b => SequenceBatch.FromTokens(oxIds, b, b.Select(i => oy[i]).ToArray())));
        clf.Training = false;
        double orderRnn = Metrics.Accuracy(Predictions(clf.Predict(SequenceBatch.FromTokens(vxIds, Enumerable.Range(0, vxIds.Count).ToArray())), 2), vy);

        double MlpAccuracy(Func<int[], float[]> features, int width)
        {
            Tensor X(int[][] x) { var t = new Tensor(x.Length, width); for (int i = 0; i < x.Length; i++) features(x[i]).CopyTo(t.Span.Slice(i * width, width)); return t; }
            var m = new Mlp(new MlpConfig { Inputs = width, Hidden = [64], Outputs = 2 }, new Rng(seed + 8));
            var train = new DenseBatch { Inputs = X(ox), Classes = oy };
            new Trainer<DenseBatch>(new Adam(m.Parameters(), 1e-2f), new TrainerOptions { Epochs = 200, LogEvery = 1_000_000 }).Fit(m, _ => [train]);
            return Metrics.Accuracy(Predictions(m.Forward(X(vx)), 2), vy);
        }
        double bag = MlpAccuracy(s => { var f = new float[symbols]; foreach (int v in s) f[v] += 1f / length; return f; }, symbols);
        double window = MlpAccuracy(s => { var f = new float[length * symbols]; for (int t = 0; t < length; t++) f[t * symbols + s[t]] = 1f; return f; }, length * symbols);

        var r = new Result(echoRnn, echoMlp, 1.0 / symbols, orderRnn, bag, window);
        if (verbose)
        {
            Console.WriteLine($"delayed echo (d={delay}, {symbols} symbols, T={length}), held-out per-step accuracy: GRU {echoRnn:P1}, one-to-one MLP {echoMlp:P1} (chance {1.0 / symbols:P1})");
            Console.WriteLine($"order task (A before B? T={length}), held-out accuracy: LSTM {orderRnn:P1}, MLP on the bag of symbols {bag:P1}, MLP on the whole one-hot window {window:P1}");
        }
        return r;
    }

    /// <summary>The most likely class of each row of (B, classes) scores.</summary>
    private static int[] Predictions(Tensor scores, int classes)
    {
        var p = new int[scores.Dim(0)];
        for (int i = 0; i < p.Length; i++) p[i] = TensorPrimitives.IndexOfMax(scores.Span.Slice(i * classes, classes));
        return p;
    }

    private static double StepAccuracy(int[][] predicted, int[][] targets)
    {
        int ok = 0, n = 0;
        for (int i = 0; i < targets.Length; i++)
            for (int t = 0; t < targets[i].Length; t++)
            {
                if (targets[i][t] < 0) continue;
                n++;
                if (predicted[i][t] == targets[i][t]) ok++;
            }
        return (double)ok / n;
    }
}
