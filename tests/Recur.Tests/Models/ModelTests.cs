using Recur.Scoring;
using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Training;

namespace Recur.Tests.Models;

/// <summary>Gradient checks of whole models (float32 central differences on a sample of parameters) and overfit tests.</summary>
public class ModelGradientTests
{
    /// <summary>Central differences on up to <paramref name="samples"/> elements of every parameter, against the model's backward.</summary>
    internal static void CheckGradients<T>(ITrainable<T> model, T batch, int samples = 6, double tolerance = 2e-2)
    {
        var m = model.Model;
        m.ZeroGrad();
        model.Step(batch, backward: true);
        var rng = new Rng(99);
        var failures = new List<string>();
        foreach (var (name, p) in m.NamedParameters())
        {
            var grad = p.Grad.ToArray();
            double scale = Math.Max(grad.Max(Math.Abs), 1e-3);
            for (int s = 0; s < Math.Min(samples, p.Value.Length); s++)
            {
                int i = rng.NextInt(p.Value.Length);
                float saved = p.Value.Span[i];
                const float eps = 1e-2f;
                p.Value.Span[i] = saved + eps;
                double up = model.Step(batch, backward: false).Loss;
                p.Value.Span[i] = saved - eps;
                double down = model.Step(batch, backward: false).Loss;
                p.Value.Span[i] = saved;
                double fd = (up - down) / (2 * eps);
                if (Math.Abs(fd - grad[i]) > tolerance * scale + 2e-4)
                    failures.Add($"{name}[{i}]: backward {grad[i]:E3}, finite difference {fd:E3}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static SequenceBatch TokenBatch(Rng rng, int vocab, int b, int t, int[] lengths, int[]? targets)
    {
        var ids = new int[b * t];
        for (int i = 0; i < b; i++)
            for (int s = 0; s < lengths[i]; s++) ids[i * t + s] = 1 + rng.NextInt(vocab - 1);
        return new SequenceBatch { Tokens = ids, Lengths = lengths, Steps = t, Targets = targets };
    }

    [Theory]
    [InlineData(Pooling.Last, RecurrentMode.Lstm, true)]
    [InlineData(Pooling.Mean, RecurrentMode.Gru, true)]
    [InlineData(Pooling.Max, RecurrentMode.RnnTanh, false)]
    public void ClassifierGradientsMatchFiniteDifferences(Pooling pooling, RecurrentMode cell, bool bidirectional)
    {
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, Cell = cell, HiddenSize = 6, Layers = 2, Bidirectional = bidirectional },
            Pooling = pooling,
            Classes = 3,
        }, new Rng(1));
        var batch = TokenBatch(new Rng(2), 9, 4, 5, [5, 3, 1, 4], [0, 2, 1, 2]);
        CheckGradients(model, batch);
    }

    [Theory]
    [InlineData(Pooling.Last)]
    [InlineData(Pooling.Mean)]
    public void ProjectedLstmClassifierGradientsMatchFiniteDifferences(Pooling pooling)
    {
        // Pooling reads the projected states: P units per direction, not H.
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, HiddenSize = 6, ProjSize = 4, Layers = 2, Bidirectional = true },
            Pooling = pooling,
            Classes = 3,
        }, new Rng(1));
        Assert.Equal(8, model.Head.InFeatures);
        var batch = TokenBatch(new Rng(2), 9, 4, 5, [5, 3, 1, 4], [0, 2, 1, 2]);
        CheckGradients(model, batch);
    }

    [Fact]
    public void TaggerGradientsMatchFiniteDifferences()
    {
        var model = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, HiddenSize = 6, Bidirectional = true },
            Tags = 4,
        }, new Rng(3));
        var b = TokenBatch(new Rng(4), 9, 3, 5, [5, 2, 4], null);
        var targets = SequenceTagger.PadTargets([[0, 1, 2, 3, 0], [3, 2], [1, 1, 0, 2]], [0, 1, 2], 5);
        CheckGradients(model, new SequenceBatch { Tokens = b.Tokens, Lengths = b.Lengths, Steps = 5, Targets = targets });
    }

    [Fact]
    public void ForecasterAndMlpGradientsMatchFiniteDifferences()
    {
        var cols = new[] { Enumerable.Range(0, 60).Select(i => (float)Math.Sin(i * 0.3) * 10 + i).ToArray(),
                           Enumerable.Range(0, 60).Select(i => (float)Math.Cos(i * 0.2)).ToArray() };
        var f = new Forecaster(new ForecasterConfig { Features = 2, Window = 6, Horizon = 3, HiddenSize = 5, Layers = 2, Difference = true },
            Standardizer.FitColumns(Forecaster.Transform(cols, true), 40), new Rng(5));
        CheckGradients(f, f.Windows(Forecaster.Transform(cols, true), [10, 20, 30]));

        var mlp = new Mlp(new MlpConfig { Inputs = 4, Hidden = [5, 3], Outputs = 3 }, new Rng(6));
        var x = new Tensor(5, 4);
        new Rng(7).FillUniform(x.Span, -1, 1);
        CheckGradients(mlp, new DenseBatch { Inputs = x, Classes = [0, 1, 2, 1, 0] });
    }
}

public class LanguageModelTests
{
    private static LanguageModel Make(int vocab = 7) => new(new LanguageModelConfig
    {
        Encoder = new EncoderConfig { VocabularySize = vocab, EmbeddingDim = 4, HiddenSize = 5, Layers = 2 },
    }, new Rng(1));

    [Fact]
    public void StreamsAreCutIntoConsecutiveChunksWithNextTokenTargets()
    {
        var s = new TbpttStream(Enumerable.Range(0, 23).ToArray(), batch: 2, steps: 4);
        Assert.Equal(11, s.StreamLength);
        var chunks = s.Enumerate().ToList();
        Assert.Equal(3, chunks.Count);
        Assert.True(chunks[0].First);
        Assert.False(chunks[1].First);
        Assert.Equal([0, 1, 2, 3, 11, 12, 13, 14], chunks[0].Inputs);
        Assert.Equal([1, 2, 3, 4, 12, 13, 14, 15], chunks[0].Targets);
        Assert.Equal(3, chunks[2].Steps);
        Assert.Equal([8, 9, 10, 19, 20, 21], chunks[2].Inputs);
    }

    [Fact]
    public void TruncatedBpttCarriesStateButCutsGradientsAtChunkBorders()
    {
        var tokens = Enumerable.Range(0, 41).Select(i => 1 + i * 5 % 6).ToArray();
        var chunks = new TbpttStream(tokens, 2, 5).Enumerate().ToList();

        // Path A: train-step chunk 0 (with backward) then chunk 1 through the trainer interface.
        var a = Make();
        ITrainable<StreamChunk> ta = a;
        ta.Step(chunks[0], backward: true);
        a.ZeroGrad();
        ta.Step(chunks[1], backward: true);
        var gradA = a.Parameters().SelectMany(p => p.Grad.ToArray()).ToArray();

        // Path B: chunk 0 forward only, then chunk 1 from the detached state explicitly.
        var b = Make();
        var (_, state) = b.Run(chunks[0], null, backward: false);
        b.ZeroGrad();
        b.Run(chunks[1], state, backward: true);
        var gradB = b.Parameters().SelectMany(p => p.Grad.ToArray()).ToArray();
        Assert.Equal(gradA, gradB);

        // The state matters: from a zero state the gradient differs.
        var c = Make();
        c.Run(chunks[1], null, backward: true);
        Assert.NotEqual(gradA, c.Parameters().SelectMany(p => p.Grad.ToArray()).ToArray());
    }

    [Fact]
    public void LearnsARepeatingPatternAndGeneratesItDeterministically()
    {
        // "1 2 3 4 5 6 1 2 3 ..." has a next-token entropy of zero once the phase is known.
        var tokens = Enumerable.Range(0, 2001).Select(i => 1 + i % 6).ToArray();
        var model = Make();
        var stream = new TbpttStream(tokens, 8, 20);
        new Trainer<StreamChunk>(new Adam(model.Parameters(), 2e-2f), new TrainerOptions { Epochs = 20 }).Fit(model, _ => stream.Enumerate());
        Assert.True(model.Evaluate(stream) < 0.05, $"loss {model.Evaluate(stream)}");
        var g1 = model.Generate([1, 2, 3], 9, 0.8f, 0, 1f, new Rng(5));
        Assert.Equal([4, 5, 6, 1, 2, 3, 4, 5, 6], g1);
        Assert.Equal(g1, model.Generate([1, 2, 3], 9, 0.8f, 0, 1f, new Rng(5)));
    }
}

public class OverfitTests
{
    [Fact]
    public void ClassifierOnNumericFeaturesOverfitsOneBatch()
    {
        var rng = new Rng(1);
        var x = new Tensor(8, 6, 3);
        rng.FillUniform(x.Span, -1, 1);
        var batch = new SequenceBatch { Features = x, Lengths = [6, 5, 4, 6, 3, 2, 6, 1], Steps = 6, Targets = [0, 1, 2, 0, 1, 2, 0, 1] };
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 3, HiddenSize = 16, Cell = RecurrentMode.Gru },
            Classes = 3,
        }, new Rng(2));
        var r = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 2e-2f), new TrainerOptions { Epochs = 150 }).Fit(model, _ => [batch]);
        Assert.True(r.History[^1].TrainLoss < 0.05, $"final loss {r.History[^1].TrainLoss}");
    }

    [Fact]
    public void ForecasterBeatsTheNaiveBaselineOnASeasonalSeries()
    {
        var y = Enumerable.Range(0, 240).Select(i => (float)(10 * Math.Sin(2 * Math.PI * i / 12) + 0.2 * i)).ToArray();
        var cols = new[] { y };
        var series = Forecaster.Transform(cols, true);
        var model = new Forecaster(new ForecasterConfig { Features = 1, Window = 12, HiddenSize = 16, Difference = true }, Standardizer.FitColumns(series, 160), new Rng(3));
        var origins = model.TrainingOrigins(160);
        var rng = new Rng(4);
        new Trainer<ForecastBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 60 })
            .Fit(model, _ => Batching.Batches(new int[origins.Length], 16, rng, bucket: false).Select(b => model.Windows(series, b.Select(i => origins[i]).ToArray())));
        var report = model.Evaluate(cols, 160, season: 12);
        Assert.True(report.ModelRmse < 0.3 * report.NaiveRmse, $"model {report.ModelRmse}, naive {report.NaiveRmse}");
    }

    [Fact]
    public void InterpolationFillsGapsLinearly()
    {
        float[] c = [float.NaN, 1, float.NaN, float.NaN, 4, float.NaN];
        Assert.Equal(4, Forecaster.Interpolate(c));
        Assert.Equal([1f, 1, 2, 3, 4, 4], c);
    }
}

public class MemoryContrastTests
{
    [Fact]
    public void RecurrentTaggerSolvesDelayedEchoWhereAOneToOneMlpIsAtChance()
    {
        const int symbols = 6, length = 12, delay = 2;
        var (x, y) = Synthetic.DelayedEcho(600, length, symbols, delay, new Rng(1));
        var ids = x.Select(s => s.Select(v => v + 2).ToArray()).ToList();
        var tagger = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = symbols + 2, EmbeddingDim = 8, HiddenSize = 24, Cell = RecurrentMode.Gru },
            Tags = symbols,
        }, new Rng(2));
        var rng = new Rng(3);
        new Trainer<SequenceBatch>(new Adam(tagger.Parameters(), 2e-2f), new TrainerOptions { Epochs = 8 })
            .Fit(tagger, _ => Batching.Batches(new int[500], 25, rng, bucket: false).Select(b =>
            {
                var batch = SequenceBatch.FromTokens(ids, b);
                return new SequenceBatch { Tokens = batch.Tokens, Lengths = batch.Lengths, Steps = batch.Steps, Targets = SequenceTagger.PadTargets(y, b, batch.Steps) };
            }));
        tagger.Training = false;
        var test = Enumerable.Range(500, 100).ToArray();
        var pred = tagger.PredictTags(SequenceBatch.FromTokens(ids, test));
        int ok = 0, n = 0;
        for (int k = 0; k < test.Length; k++)
            for (int t = delay; t < length; t++) { n++; if (pred[k][t] == y[test[k]][t]) ok++; }
        Assert.True(ok / (double)n > 0.95, $"GRU accuracy {ok / (double)n:P1}");

        // The one-to-one view: step t's symbol alone. The best any function of it can do is chance.
        var mlp = new Mlp(new MlpConfig { Inputs = symbols, Hidden = [16], Outputs = symbols }, new Rng(4));
        var rows = Enumerable.Range(0, 500).SelectMany(i => Enumerable.Range(delay, length - delay).Select(t => (x[i][t], y[i][t]))).ToArray();
        var inputs = new Tensor(rows.Length, symbols);
        for (int r = 0; r < rows.Length; r++) inputs.Span[r * symbols + rows[r].Item1] = 1f;
        var dense = new DenseBatch { Inputs = inputs, Classes = rows.Select(p => p.Item2).ToArray() };
        new Trainer<DenseBatch>(new Adam(mlp.Parameters(), 1e-2f), new TrainerOptions { Epochs = 30 }).Fit(mlp, _ => [dense]);
        var scores = mlp.Forward(inputs);
        int right = 0;
        for (int r = 0; r < rows.Length; r++) if (TensorPrimitives.IndexOfMax(scores.Span.Slice(r * symbols, symbols)) == rows[r].Item2) right++;
        Assert.InRange(right / (double)rows.Length, 0.10, 0.25);
    }
}

public class LongMemoryTaskTests
{
    [Fact]
    public void AddingProblemHasTwoMarkersOnePerHalfAndTheirSumAsTarget()
    {
        var (x, y) = Synthetic.AddingProblem(200, 30, new Rng(1));
        for (int s = 0; s < 200; s++)
        {
            var marked = Enumerable.Range(0, 30).Where(t => x[s][2 * t + 1] == 1f).ToArray();
            Assert.Equal(2, marked.Length);
            Assert.True(marked[0] < 15 && marked[1] >= 15);
            Assert.Equal(x[s][2 * marked[0]] + x[s][2 * marked[1]], y[s], 6);
        }
    }

    [Fact]
    public void CopyTaskAsksForTheSymbolsAfterTheDelimiter()
    {
        var (x, y) = Synthetic.CopyTask(5, symbols: 4, delay: 10, new Rng(2));
        Assert.All(x, s => Assert.Equal(18, s.Length));
        for (int s = 0; s < 5; s++)
        {
            Assert.Equal(9, x[s][13]);
            Assert.Equal(x[s][..4], y[s][14..]);
            Assert.All(y[s][..14], v => Assert.Equal(0, v));
        }
    }

    [Fact]
    public void GruRegressorSolvesAShortAddingProblemAndRecordsGradientFlow()
    {
        var model = new SequenceRegressor(new RegressorConfig { InputFeatures = 2, HiddenSize = 32, Cell = RecurrentMode.Gru }, new Rng(3));
        var rng = new Rng(4);
        RegressionBatch Batch((float[][] X, float[] Y) d)
        {
            var inputs = new Tensor(d.X.Length, 20, 2);
            for (int i = 0; i < d.X.Length; i++) d.X[i].CopyTo(inputs.Span.Slice(i * 40));
            return new RegressionBatch { Inputs = inputs, Targets = Tensor.FromArray(d.Y, d.Y.Length, 1) };
        }
        new Trainer<RegressionBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 1, MaxSteps = 400, ClipNorm = 1f })
            .Fit(model, _ => Enumerable.Range(0, 400).Select(_ => Batch(Synthetic.AddingProblem(32, 20, rng))));
        var test = Batch(Synthetic.AddingProblem(300, 20, new Rng(5)));
        model.Training = false;
        var p = model.Predict(test.Inputs);
        double mse = Math.Pow(Metrics.Rmse(p.Span, test.Targets.Span), 2);
        Assert.True(mse < 0.02, $"MSE {mse} (predicting the mean scores about 0.17)");
        var flow = new GradientFlowRecorder();
        model.Step(test, backward: true, flow);
        Assert.Equal(20, flow.Flow()!.Length);
        Assert.All(flow.Flow()!, v => Assert.True(double.IsFinite(v) && v >= 0));
    }
}
