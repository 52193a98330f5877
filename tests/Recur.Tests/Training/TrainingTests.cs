using Recur.Scoring;
using Recur.Models;
using Recur.Models.Decoding;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Training;

namespace Recur.Tests.Training;

public class MetricsTests
{
    [Fact]
    public void ClassificationMetricsMatchHandCountedValues()
    {
        int[] truth = [0, 0, 1, 1, 2, 2, -1];
        int[] pred = [0, 1, 1, 1, 0, 2, 2];
        Assert.Equal(4.0 / 6, Metrics.Accuracy(pred, truth), 12);
        var m = Metrics.ConfusionMatrix(pred, truth, 3);
        Assert.Equal(new[,] { { 1, 1, 0 }, { 0, 2, 0 }, { 1, 0, 1 } }, m);
        // F1: class 0: tp1 fp1 fn1 -> 0.5; class 1: tp2 fp1 fn0 -> 0.8; class 2: tp1 fp0 fn1 -> 2/3
        Assert.Equal((0.5 + 0.8 + 2.0 / 3) / 3, Metrics.MacroF1(pred, truth, 3), 12);
    }

    [Fact]
    public void RegressionAndLanguageModelMetrics()
    {
        float[] p = [1, 2, 4], t = [1, 3, float.NaN];
        Assert.Equal(0.5, Metrics.Mae(p, t), 12);
        Assert.Equal(Math.Sqrt(0.5), Metrics.Rmse(p, t), 12);
        Assert.Equal(Math.E, Metrics.Perplexity(1), 12);
        Assert.Equal(1.0, Metrics.BitsPerCharacter(Math.Log(2)), 12);
    }
}

public class ScheduleTests
{
    [Fact]
    public void StepExponentialAndCosineFollowTheirFormulas()
    {
        var step = new StepSchedule(1f, stepSize: 2, gamma: 0.5f);
        Assert.Equal([1f, 0.5f, 0.5f, 0.25f], new[] { 1, 2, 3, 4 }.Select(e => step.OnEpochEnd(e, null)));
        var exp = new ExponentialSchedule(2f, 0.9f);
        Assert.Equal(2f * 0.9f * 0.9f, exp.OnEpochEnd(2, null), 6);
        var cos = new CosineWarmupSchedule(1f, warmupSteps: 10, totalSteps: 110, minLearningRate: 0.1f);
        Assert.Equal(0.5f, cos.OnStep(5), 6);
        Assert.Equal(1f, cos.OnStep(10), 6);
        Assert.Equal(0.1f + 0.9f * 0.5f, cos.OnStep(60), 5);
        Assert.Equal(0.1f, cos.OnStep(110), 6);
        Assert.Equal(0.1f, cos.OnStep(500), 6);
    }

    [Fact]
    public void StepDecaysAfterItsStartThenEveryStepSize()
    {
        // The rate of epoch e is what OnEpochEnd(e - 1) returns; epoch 1 runs at the base rate.
        static float[] Rates(StepSchedule s, int epochs) => [s.Current, .. Enumerable.Range(1, epochs - 1).Select(e => s.OnEpochEnd(e, null))];
        // StepLR(step_size=3, gamma=0.5): epochs 1-3 at 1, 4-6 at 0.5, 7-9 at 0.25, 10 at 0.125.
        Assert.Equal([1f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.25f, 0.25f, 0.25f, 0.125f], Rates(new StepSchedule(1f, stepSize: 3, gamma: 0.5f), 10));
        // Zaremba et al. (2014), small model: lr 1 for 4 epochs, then halved every epoch (epoch 5: 0.5, epoch 13: 0.5^9).
        Assert.Equal([1f, 1f, 1f, 1f, 0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f, 0.015625f, 0.0078125f, 0.00390625f, 0.001953125f],
            Rates(new StepSchedule(1f, stepSize: 1, gamma: 0.5f, decayStart: 4), 13));
        // Constant for 2 epochs, then x0.1 every 3: epochs 3-5 at 0.1, 6-8 at 0.01.
        var r = Rates(new StepSchedule(2f, stepSize: 3, gamma: 0.1f, decayStart: 2), 8);
        float[] expected = [2f, 2f, 0.2f, 0.2f, 0.2f, 0.02f, 0.02f, 0.02f];
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], r[i], 6);
        Assert.Throws<ArgumentOutOfRangeException>(() => new StepSchedule(1f, 1, 0.5f, decayStart: 0));
    }

    [Fact]
    public void PlateauWithAFloorStopsDecayingAtTheFloor()
    {
        // patience 2, factor 0.5, floor 1/1000 of the rate: a validation loss that never improves after epoch 1 halves the
        // rate every third epoch (after 2 epochs of patience) until it reaches the floor, and stays there.
        var s = new ReduceOnPlateauSchedule(1f, factor: 0.5f, patience: 2, minLearningRate: 1e-3f);
        var rates = Enumerable.Range(1, 40).Select(e => s.OnEpochEnd(e, 1.0)).ToArray();
        Assert.Equal([1f, 1f, 1f, 0.5f, 0.5f, 0.5f, 0.25f], rates[..7]);
        Assert.Equal(1e-3f, rates[^1]);
        Assert.Equal(1f / 512, rates[3 * 9]); // after 9 decays: 1/512; after 10: 1/1024 < 1e-3, so the floor
        Assert.Equal(1e-3f, rates[3 * 10]);
    }

    [Fact]
    public void PlateauReducesAfterPatienceEpochsWithoutImprovement()
    {
        var s = new ReduceOnPlateauSchedule(1f, factor: 0.5f, patience: 2);
        Assert.Equal(1f, s.OnEpochEnd(1, 1.0));
        Assert.Equal(1f, s.OnEpochEnd(2, 0.9));
        Assert.Equal(1f, s.OnEpochEnd(3, 0.95));
        Assert.Equal(1f, s.OnEpochEnd(4, 0.95));
        Assert.Equal(0.5f, s.OnEpochEnd(5, 0.95));
        Assert.Equal(0.5f, s.OnEpochEnd(6, 0.5));
    }
}

public class OptimizerTests
{
    private sealed class One : Module
    {
        public One(params float[] v) { P = AddParameter("p", v.Length); v.CopyTo(P.Value.Span); }
        public Parameter P { get; }
    }

    [Fact]
    public void ClipByNormReturnsTheNormBeforeClippingAndScalesOnlyAboveTheLimit()
    {
        var m = new One(0, 0);
        Tensor.FromArray([3f, 4f], 2).Span.CopyTo(m.P.Grad.Span);
        Assert.Equal(5f, GradientClipping.ClipByNorm(m.Parameters(), 1f), 5);
        Assert.Equal(1f, GradientClipping.GlobalNorm(m.Parameters()), 4);
        Assert.Equal(1f, GradientClipping.ClipByNorm(m.Parameters(), 10f), 4);
        Assert.Equal(1f, GradientClipping.GlobalNorm(m.Parameters()), 4);
        GradientClipping.ClipByValue(m.Parameters(), 0.5f);
        Assert.All(m.P.Grad.ToArray(), g => Assert.True(MathF.Abs(g) <= 0.5f));
    }

    [Fact]
    public void OptimizersHaveInstanceScopedState()
    {
        var a = new One(1f);
        var b = new One(1f);
        var oa = new Adam(a.Parameters(), 0.1f);
        var ob = new Adam(b.Parameters(), 0.1f);
        a.P.Grad.Span[0] = 1f;
        oa.Step();
        oa.Step();
        b.P.Grad.Span[0] = 1f;
        ob.Step();
        var c = new One(1f);
        var oc = new Adam(c.Parameters(), 0.1f);
        c.P.Grad.Span[0] = 1f;
        oc.Step();
        Assert.Equal(c.P.Value.Span[0], b.P.Value.Span[0]); // b's first step is unaffected by a's history
    }

    [Fact]
    public void BadHyperparametersAreRejectedNamingThem()
    {
        var m = new One(1f);
        Assert.Equal("momentum", Assert.Throws<ArgumentOutOfRangeException>(() => new Sgd(m.Parameters(), 0.1f, momentum: -1)).ParamName);
        Assert.Throws<ArgumentException>(() => new Sgd(m.Parameters(), 0.1f, nesterov: true));
        Assert.Equal("beta1", Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(m.Parameters(), 0.1f, beta1: 1f)).ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(m.Parameters(), float.NaN));
    }
}

/// <summary>A linear regression the trainer tests drive, with a switch that poisons the loss.</summary>
internal sealed class LinearProblem : Module, ITrainable<int>
{
    public readonly Linear Layer;
    public readonly Tensor X;
    public readonly Tensor Y;
    public Func<int, bool> Poison = _ => false;
    public int Calls;

    public LinearProblem(ulong seed)
    {
        var rng = new Rng(seed);
        Layer = AddModule("layer", new Linear(3, 1, rng: rng.Split()));
        X = new Tensor(32, 3);
        rng.FillUniform(X.Span, -1, 1);
        Y = new Tensor(32, 1);
        for (int i = 0; i < 32; i++) Y.Span[i] = 2 * X[i, 0] - X[i, 1] + 0.5f * X[i, 2] + 0.3f;
    }

    public Module Model => this;

    public BatchLoss Step(int batch, bool backward)
    {
        Calls++;
        // batch = which half of the data (0, 1) or -1 for all
        int start = batch == 1 ? 16 : 0, n = batch < 0 ? 32 : 16;
        var x = Tensor.FromArray(X.Span.Slice(start * 3, n * 3).ToArray(), n, 3);
        var y = Tensor.FromArray(Y.Span.Slice(start, n).ToArray(), n, 1);
        var p = Layer.Forward(x);
        var d = new Tensor(n, 1);
        float l = MseLoss.Forward(p.Output, y, d);
        if (Poison(Calls)) { l = float.NaN; d.Span.Fill(float.NaN); }
        if (backward) p.BackwardToParameters(d);
        return new BatchLoss(l, n);
    }
}

public class TrainerTests
{
    [Fact]
    public void LossGoesDownAndProgressIsReported()
    {
        var m = new LinearProblem(1);
        var events = new List<TrainingProgress>();
        var t = new Trainer<int>(new Adam(m.Parameters(), 0.05f), new TrainerOptions { Epochs = 60, LogEvery = 20 });
        t.Progress += events.Add;
        var r = t.Fit(m, _ => [-1], batchesPerEpoch: 1);
        Assert.True(r.History[^1].TrainLoss < 0.05 * r.History[0].TrainLoss, $"loss {r.History[0].TrainLoss} -> {r.History[^1].TrainLoss}");
        Assert.Contains(events, e => e.Kind == ProgressKind.Step && e.Eta is not null && e.ItemsPerSecond > 0 && e.LearningRate == 0.05f);
        Assert.Equal(60, events.Count(e => e.Kind == ProgressKind.EpochEnd));
    }

    [Fact]
    public void NonFiniteStepsAreSkippedWithAWarningAndNeverReachTheWeights()
    {
        var m = new LinearProblem(2);
        m.Poison = call => call == 3;
        var before = new List<float[]>();
        var warnings = new List<string>();
        var t = new Trainer<int>(new Sgd(m.Parameters(), 0.1f), new TrainerOptions { Epochs = 1 });
        t.Progress += p => { if (p.Kind == ProgressKind.Warning) warnings.Add(p.Message!); };
        var r = t.Fit(m, _ => Enumerable.Range(0, 5).Select(i => -1).Select((b, i) =>
        {
            if (i == 2) before.Add(m.Parameters().SelectMany(p => p.Value.ToArray()).ToArray());
            if (i == 3) before.Add(m.Parameters().SelectMany(p => p.Value.ToArray()).ToArray());
            return b;
        }));
        Assert.Equal(1, r.SkippedSteps);
        Assert.Equal(4, r.Steps);
        Assert.Single(warnings);
        Assert.Contains("skipped", warnings[0]);
        Assert.Equal(before[0], before[1]); // the poisoned step (third batch) changed nothing
        Assert.All(m.Parameters().SelectMany(p => p.Value.ToArray()), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void APoisonedStepNeverReachesACheckpoint()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recur-poison-{Guid.NewGuid():N}.ckpt");
        try
        {
            var m = new LinearProblem(6) { Poison = call => call % 2 == 1 };
            var t = new Trainer<int>(new Adam(m.Parameters(), 0.1f), new TrainerOptions { Epochs = 3, CheckpointPath = path, CheckpointEvery = 1, MaxConsecutiveBadSteps = 3 });
            int checkpoints = 0;
            t.Progress += p =>
            {
                if (p.Kind != ProgressKind.Checkpoint) return;
                checkpoints++;
                var file = Recur.Tensors.SafeTensorsFile.Load(path);
                foreach (var name in file.Names)
                    Assert.All(file.ReadFloat32(name), v => Assert.True(float.IsFinite(v), $"{name} holds {v}"));
            };
            var r = t.Fit(m, _ => [-1, -1, -1, -1]);
            Assert.True(r.SkippedSteps > 0 && checkpoints > 0, $"skipped {r.SkippedSteps}, checkpoints {checkpoints}");
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void TooManyBadStepsInARowStopTrainingWithAClearMessage()
    {
        var m = new LinearProblem(3) { Poison = call => call >= 2 };
        var t = new Trainer<int>(new Sgd(m.Parameters(), 0.1f), new TrainerOptions { Epochs = 5, MaxConsecutiveBadSteps = 3 });
        var e = Assert.Throws<TrainingDivergedException>(() => t.Fit(m, _ => [-1, -1, -1, -1]));
        Assert.Contains("3 steps in a row", e.Message);
        Assert.Contains("learning rate", e.Message);
    }

    [Fact]
    public void GradientAccumulationOfTwoHalvesEqualsOneFullBatch()
    {
        var a = new LinearProblem(4);
        var b = new LinearProblem(4);
        new Trainer<int>(new Sgd(a.Parameters(), 0.1f), new TrainerOptions { Epochs = 3, ClipNorm = null }).Fit(a, _ => [-1]);
        new Trainer<int>(new Sgd(b.Parameters(), 0.1f), new TrainerOptions { Epochs = 3, ClipNorm = null, GradientAccumulation = 2 }).Fit(b, _ => [0, 1]);
        var pa = a.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var pb = b.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        for (int i = 0; i < pa.Length; i++) Assert.Equal(pa[i], pb[i], 5);
    }

    [Fact]
    public void EarlyStoppingStopsAndTheBestEpochsWeightsAreRestored()
    {
        var m = new LinearProblem(5);
        int epoch = 0;
        float[]? atBest = null;
        var t = new Trainer<int>(new Adam(m.Parameters(), 0.05f), new TrainerOptions { Epochs = 50, EarlyStoppingPatience = 3 });
        // Validation pretends epoch 4 was best; afterwards it only gets worse.
        var r = t.Fit(m, _ => [-1], () =>
        {
            epoch++;
            if (epoch == 4) atBest = m.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
            return new Evaluation("loss", Math.Abs(epoch - 4), false);
        });
        Assert.Equal(StopReason.EarlyStopped, r.Reason);
        Assert.Equal(4, r.BestEpoch);
        Assert.Equal(7, r.History.Count);
        Assert.Equal(atBest, m.Parameters().SelectMany(p => p.Value.ToArray()).ToArray());
    }

    [Fact]
    public void EarlyStoppingCountsOnlyImprovementsLargerThanMinDelta()
    {
        // The validation loss improves by 0.001 every epoch: without a minimum it never stops; with MinDelta 0.01 the
        // improvements do not count, so it stops after the patience, keeping epoch 1 as the best.
        Evaluation Scripted(ref int epoch) => new("loss", 1.0 - 0.001 * ++epoch, false);
        var m = new LinearProblem(7);
        int e1 = 0;
        var all = new Trainer<int>(new Sgd(m.Parameters(), 0.01f), new TrainerOptions { Epochs = 12, EarlyStoppingPatience = 3 })
            .Fit(m, _ => [-1], () => Scripted(ref e1));
        Assert.Equal(StopReason.Completed, all.Reason);
        Assert.Equal(12, all.BestEpoch);

        int e2 = 0;
        var r = new Trainer<int>(new Sgd(m.Parameters(), 0.01f), new TrainerOptions { Epochs = 12, EarlyStoppingPatience = 3, EarlyStoppingMinDelta = 0.01 })
            .Fit(m, _ => [-1], () => Scripted(ref e2));
        Assert.Equal(StopReason.EarlyStopped, r.Reason);
        Assert.Equal(1, r.BestEpoch);
        Assert.Equal(4, r.History.Count);

        // Improvements larger than the minimum still count.
        Assert.True(new Evaluation("accuracy", 0.9, true).IsBetterThan(new Evaluation("accuracy", 0.85, true), 0.01));
        Assert.False(new Evaluation("accuracy", 0.855, true).IsBetterThan(new Evaluation("accuracy", 0.85, true), 0.01));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TrainerOptions { EarlyStoppingMinDelta = -1 }.Validate());
    }

    [Fact]
    public void CancellationStopsBetweenSteps()
    {
        var m = new LinearProblem(6);
        using var cts = new CancellationTokenSource();
        var t = new Trainer<int>(new Sgd(m.Parameters(), 0.01f), new TrainerOptions { Epochs = 100, LogEvery = 1 });
        t.Progress += p => { if (p.Step == 5) cts.Cancel(); };
        var r = t.Fit(m, _ => [-1, -1], cancellation: cts.Token);
        Assert.Equal(StopReason.Cancelled, r.Reason);
        Assert.Equal(5, r.Steps);
    }

    [Fact]
    public void BadOptionsAreRejectedNamingTheOption()
    {
        var m = new LinearProblem(7);
        var t = new Trainer<int>(new Sgd(m.Parameters(), 0.1f), new TrainerOptions { GradientAccumulation = 0 });
        Assert.Equal("GradientAccumulation", Assert.Throws<ArgumentOutOfRangeException>(() => t.Fit(m, _ => [-1])).ParamName);
    }
}

public class SamplingTests
{
    [Fact]
    public void GreedyTopKAndTopPRestrictTheDraw()
    {
        float[] logits = [1f, 3f, 2f, 0f];
        var rng = new Rng(1);
        Assert.Equal(1, Sampling.Sample(logits, 0f, 0, 1f, rng));
        for (int i = 0; i < 50; i++) Assert.Equal(1, Sampling.Sample(logits, 1f, 1, 1f, rng));
        for (int i = 0; i < 50; i++) Assert.Contains(Sampling.Sample(logits, 1f, 2, 1f, rng), new[] { 1, 2 });
        for (int i = 0; i < 50; i++) Assert.Equal(1, Sampling.Sample(logits, 1f, 0, 0.5f, rng));
    }

    [Fact]
    public void FrequenciesFollowTheSoftmaxAtTheTemperature()
    {
        float[] logits = [0f, (float)Math.Log(3)];
        var rng = new Rng(2);
        int ones = 0, n = 20000;
        for (int i = 0; i < n; i++) ones += Sampling.Sample(logits, 1f, 0, 1f, rng);
        Assert.InRange(ones / (double)n, 0.74, 0.76);
        ones = 0;
        for (int i = 0; i < n; i++) ones += Sampling.Sample(logits, 2f, 0, 1f, rng); // softmax(x/2): sqrt(3)/(1+sqrt(3))
        Assert.InRange(ones / (double)n, 0.623, 0.645);
    }
}
