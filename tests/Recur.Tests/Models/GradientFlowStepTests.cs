using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.Models;

/// <summary>
/// The gradient-flow observer passed to a model's <c>Step(batch, backward, gradientFlow)</c>: it reaches the recurrent
/// stack's backward pass, reports what the layer reports when called directly, and nothing is reported without it.
/// </summary>
public class GradientFlowStepTests
{
    [Fact]
    public void AClassifiersStepReportsTheCurvesOfItsRecurrentStackCalledDirectly()
    {
        // Feature input, last-state pooling, two bidirectional layers: the step's backward reaches the stack through
        // SequenceEncoder.Pass.Backward.
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 3, Cell = RecurrentMode.Lstm, HiddenSize = 6, Layers = 2, Bidirectional = true },
            Pooling = Pooling.Last,
            Classes = 3,
        }, new Rng(1));
        int b = 4, t = 5, f = 3, h = 6, d = 2;
        var x = new Tensor(b, t, f);
        new Rng(2).FillUniform(x.Span, -1, 1);
        int[] lengths = [5, 3, 1, 4], targets = [0, 2, 1, 2];
        var batch = new SequenceBatch { Features = x, Lengths = lengths, Steps = t, Targets = targets };

        var throughStep = new GradientFlowRecorder();
        using (model.EvaluationMode()) model.Step(batch, backward: true, throughStep);

        // The same loss, backpropagated by hand into the layer, with the observer passed to the layer's own Backward.
        var direct = new GradientFlowRecorder();
        using (model.EvaluationMode())
        {
            var rnn = model.Encoder.Rnn;
            using var r = rnn.Forward(x, lengths);
            var pooled = new Tensor(b, d * h);
            int top = (rnn.NumLayers - 1) * d;
            for (int i = 0; i < b; i++)
                for (int k = 0; k < d; k++)
                    r.HiddenState.Span.Slice(((top + k) * b + i) * h, h).CopyTo(pooled.Span.Slice(i * d * h + k * h, h));
            var head = model.Head.Forward(pooled);
            var dLogits = new Tensor(head.Output.Shape.ToArray());
            new CrossEntropyLoss().Forward(head.Output, targets, dLogits);
            var dPooled = head.Backward(dLogits);
            var dHidden = new Tensor(r.HiddenState.Shape.ToArray());
            for (int i = 0; i < b; i++)
                for (int k = 0; k < d; k++)
                    dPooled.Span.Slice(i * d * h + k * h, h).CopyTo(dHidden.Span.Slice(((top + k) * b + i) * h, h));
            r.Backward(null, dHidden, gradientFlow: direct);
        }

        for (int l = 0; l < 2; l++)
            for (int k = 0; k < d; k++)
            {
                Assert.Equal(t, direct.Flow(l, k)!.Length);
                Assert.Equal(direct.Flow(l, k), throughStep.Flow(l, k));
            }
        Assert.Contains(direct.Flow(0, 0)!, v => v > 0);
        Assert.Null(throughStep.Flow(2, 0));
    }

    [Fact]
    public void AForecastersStepReportsTheCurvesOfItsRecurrentLayerCalledDirectly()
    {
        var (model, batch) = Forecaster();
        var throughStep = new GradientFlowRecorder();
        using (model.EvaluationMode()) model.Step(batch, backward: true, throughStep);

        var direct = new GradientFlowRecorder();
        using (model.EvaluationMode())
        {
            using var r = model.Rnn.Forward(batch.Inputs);
            int b = batch.Inputs.Dim(0), h = model.Config.HiddenSize, top = model.Config.Layers - 1;
            var last = Tensor.FromArray(r.HiddenState.Span.Slice(top * b * h, b * h).ToArray(), b, h);
            var head = model.Head.Forward(last);
            var dPred = new Tensor(head.Output.Shape.ToArray());
            MseLoss.Forward(head.Output, batch.Targets, dPred);
            var dHidden = new Tensor(r.HiddenState.Shape.ToArray());
            head.Backward(dPred).Span.CopyTo(dHidden.Span.Slice(top * b * h, b * h));
            r.Backward(null, dHidden, gradientFlow: direct);
        }

        for (int l = 0; l < model.Config.Layers; l++)
        {
            Assert.Equal(model.Config.Window, direct.Flow(l, 0)!.Length);
            Assert.Equal(direct.Flow(l, 0), throughStep.Flow(l, 0));
        }
        Assert.Contains(direct.Flow(0, 0)!, v => v > 0);
    }

    [Theory]
    [InlineData("classifier")]
    [InlineData("tagger")]
    [InlineData("language model")]
    [InlineData("forecaster")]
    [InlineData("generator")]
    [InlineData("seq2seq")]
    [InlineData("regressor")]
    public void StepReportsEveryLayerAndDirectionWithAnObserverAndNothingWithout(string kind)
    {
        var (model, step, expected, steps) = Make(kind);
        var seen = new List<(int Layer, int Direction, int Steps)>();
        var observer = new Probe(seen);

        BatchLoss withObserver;
        using (model.EvaluationMode()) withObserver = step(observer);
        var gradsWith = model.Parameters().SelectMany(p => p.Grad.ToArray()).ToArray();
        Assert.Equal(expected.Select(e => (e.Layer, e.Direction, steps)), seen);

        // The same step without an observer: nothing reaches the earlier observer (no state was left on a layer),
        // and observing changed nothing: the loss and the gradients are bit-identical.
        seen.Clear();
        foreach (var p in model.Parameters()) p.Grad.Span.Clear();
        BatchLoss without;
        using (model.EvaluationMode()) without = step(null);
        Assert.Empty(seen);
        Assert.Equal(withObserver, without);
        Assert.Equal(gradsWith, model.Parameters().SelectMany(p => p.Grad.ToArray()).ToArray());
        Assert.Contains(gradsWith, g => g != 0f);
    }

    private static (Module Model, Func<IGradientFlowObserver?, BatchLoss> Step, (int Layer, int Direction)[] Expected, int Steps) Make(string kind)
    {
        var rng = new Rng(11);
        switch (kind)
        {
            case "classifier":
            {
                var m = new SequenceClassifier(new ClassifierConfig
                {
                    Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, Cell = RecurrentMode.Gru, HiddenSize = 6, Layers = 2, Bidirectional = true },
                    Pooling = Pooling.Mean,
                    Classes = 3,
                }, new Rng(1));
                var batch = Tokens(rng, 9, 5, [5, 3, 1, 4]);
                batch = new SequenceBatch { Tokens = batch.Tokens, Lengths = batch.Lengths, Steps = 5, Targets = [0, 2, 1, 2] };
                return (m, o => m.Step(batch, true, o), [(0, 0), (0, 1), (1, 0), (1, 1)], 5);
            }
            case "tagger":
            {
                var m = new SequenceTagger(new TaggerConfig
                {
                    Encoder = new EncoderConfig { VocabularySize = 9, EmbeddingDim = 5, HiddenSize = 6, Bidirectional = true },
                    Tags = 4,
                }, new Rng(3));
                var b = Tokens(rng, 9, 5, [5, 2, 4]);
                var batch = new SequenceBatch { Tokens = b.Tokens, Lengths = b.Lengths, Steps = 5, Targets = SequenceTagger.PadTargets([[0, 1, 2, 3, 0], [3, 2], [1, 1, 0, 2]], [0, 1, 2], 5) };
                return (m, o => m.Step(batch, true, o), [(0, 0), (0, 1)], 5);
            }
            case "language model":
            {
                var m = new LanguageModel(new LanguageModelConfig
                {
                    Encoder = new EncoderConfig { VocabularySize = 7, EmbeddingDim = 4, HiddenSize = 5, Layers = 2 },
                }, new Rng(1));
                var chunk = new TbpttStream(Enumerable.Range(0, 41).Select(i => 1 + i * 5 % 6).ToArray(), 2, 5).Enumerate().First();
                return (m, o => m.Step(chunk, true, o), [(0, 0), (1, 0)], 5);
            }
            case "forecaster":
            {
                var (m, batch) = Forecaster();
                return (m, o => m.Step(batch, true, o), [(0, 0), (1, 0)], m.Config.Window);
            }
            case "generator":
            {
                var m = new ConditionalGenerator(new GeneratorConfig { ConditionSize = 3, FrameSize = 5, HiddenSize = 6, Layers = 2 }, new Rng(1));
                var frames = new Tensor(3, 4, 5);
                for (int i = 0; i < frames.Span.Length; i++) frames.Span[i] = rng.NextInt(3) == 0 ? 1f : 0f;
                var conditions = new Tensor(3, 3);
                rng.FillUniform(conditions.Span, -1, 1);
                var batch = new FrameBatch { Frames = frames, Conditions = conditions, Lengths = [4, 2, 3] };
                return (m, o => m.Step(batch, true, o), [(0, 0), (1, 0)], 4);
            }
            case "seq2seq":
            {
                // Two decoder layers: a decoder curve reported by mistake would show up as layer 1.
                var m = new Seq2Seq(new Seq2SeqConfig
                {
                    Encoder = new EncoderConfig { VocabularySize = 8, EmbeddingDim = 4, HiddenSize = 5, Bidirectional = true },
                    TargetVocabulary = 9, BosId = 2, EosId = 3, DecoderEmbedding = 4, DecoderHidden = 6, DecoderLayers = 2,
                }, new Rng(6));
                List<int[]> srcs = [[4, 5, 6], [7, 4], [5, 5, 6, 7]], tgts = [[7, 6, 5], [5, 8], [8, 7, 6, 6]];
                var batch = TranslationBatch.Create(srcs, tgts, [0, 1, 2], 2, 3);
                return (m, o => m.Step(batch, true, o), [(0, 0), (0, 1)], batch.SourceSteps);
            }
            case "regressor":
            {
                var m = new SequenceRegressor(new RegressorConfig { InputFeatures = 2, HiddenSize = 5, Layers = 2, Outputs = 1 }, new Rng(4));
                var inputs = new Tensor(3, 6, 2);
                rng.FillUniform(inputs.Span, -1, 1);
                var targets = new Tensor(3, 1);
                rng.FillUniform(targets.Span, -1, 1);
                var batch = new RegressionBatch { Inputs = inputs, Targets = targets, Lengths = [6, 4, 5] };
                return (m, o => m.Step(batch, true, o), [(0, 0), (1, 0)], 6);
            }
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, null);
        }
    }

    private static (Forecaster Model, ForecastBatch Batch) Forecaster()
    {
        var cols = new[] { Enumerable.Range(0, 60).Select(i => (float)Math.Sin(i * 0.3) * 10 + i).ToArray(),
                           Enumerable.Range(0, 60).Select(i => (float)Math.Cos(i * 0.2)).ToArray() };
        var model = new Forecaster(new ForecasterConfig { Features = 2, Window = 6, Horizon = 3, HiddenSize = 5, Layers = 2 },
            Standardizer.FitColumns(cols, 40), new Rng(5));
        return (model, model.Windows(cols, [10, 20, 30]));
    }

    private static SequenceBatch Tokens(Rng rng, int vocab, int t, int[] lengths)
    {
        var ids = new int[lengths.Length * t];
        for (int i = 0; i < lengths.Length; i++)
            for (int s = 0; s < lengths[i]; s++) ids[i * t + s] = 1 + rng.NextInt(vocab - 1);
        return new SequenceBatch { Tokens = ids, Lengths = lengths, Steps = t };
    }

    private sealed class Probe(List<(int, int, int)> seen) : IGradientFlowObserver
    {
        public void Observe(int layer, int direction, ReadOnlySpan<double> norms) => seen.Add((layer, direction, norms.Length));
    }
}
