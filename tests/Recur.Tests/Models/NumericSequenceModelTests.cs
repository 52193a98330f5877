using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Scoring;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Training;

namespace Recur.Tests.Models;

/// <summary>
/// Models over numeric sequences through the library alone: the pooled regressor's gradients, the README's example
/// (a classifier on generated waveforms, batched and scored by the library), and model files of both kinds.
/// </summary>
public class NumericSequenceModelTests
{
    private static SequenceBatch FeatureBatch(int seed, int[] lengths, int features, float[]? values = null)
    {
        var rng = new Rng((ulong)seed);
        var seqs = lengths.Select(l => { var a = new float[l * features]; rng.FillUniform(a, -1, 1); return a; }).ToArray();
        return SequenceBatch.FromFeatures(seqs, features, [.. Enumerable.Range(0, seqs.Length)], values: values);
    }

    [Theory]
    [InlineData(Pooling.Last, RecurrentMode.Lstm, true)]
    [InlineData(Pooling.Mean, RecurrentMode.Gru, false)]
    [InlineData(Pooling.Max, RecurrentMode.RnnTanh, true)]
    public void Pooled_regressor_gradients_match_finite_differences(Pooling pooling, RecurrentMode cell, bool bidirectional)
    {
        var model = new PooledSequenceRegressor(new PooledRegressorConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 3, Cell = cell, HiddenSize = 5, Layers = 2, Bidirectional = bidirectional },
            Pooling = pooling,
        }, new Rng(11));
        ModelGradientTests.CheckGradients(model, FeatureBatch(12, [4, 2, 5, 1], 3, [0.5f, -1f, 2f, 0f]));
    }

    [Fact]
    public void A_regressor_step_needs_one_value_per_sequence()
    {
        var model = new PooledSequenceRegressor(new PooledRegressorConfig { Encoder = new EncoderConfig { InputFeatures = 2, HiddenSize = 3 } }, new Rng(1));
        var e = Assert.Throws<ArgumentException>(() => model.Step(FeatureBatch(1, [2, 3], 2), backward: true));
        Assert.StartsWith("batch.Values (the targets, (B, outputs)) is required for training", e.Message);
    }

    /// <summary>
    /// The README's library example, line for line: generated waveforms (sine, square, sawtooth; two sensors; lengths
    /// 20 to 60; noise), standardised with training statistics, a GRU classifier, and the library's batching and scoring.
    /// </summary>
    [Fact]
    public void Readme_example_classifies_generated_waveforms_above_90_percent()
    {
        var train = SyntheticWaveforms.Generate(900, new Rng(1));
        var test = SyntheticWaveforms.Generate(300, new Rng(2));
        var labels = LabelMap.FromData(train.Shapes);                              // classes: sawtooth, sine, square
        int[] trainY = [.. train.Shapes.Select(s => labels.IndexOf(s, "train", "label"))];
        int[] testY = [.. test.Shapes.Select(s => labels.IndexOf(s, "test", "label"))];
        var standardizer = Standardizer.FitFrames(train.Sequences, s => s, s => s.Length / 2, columns: 2);

        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 2, Cell = RecurrentMode.Gru, HiddenSize = 32 },
            Pooling = Pooling.Mean,
            Classes = labels.Count,
        }, new Rng(3));
        var shuffle = new Rng(4);
        int[] lengths = [.. train.Sequences.Select(s => s.Length / 2)];
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 0.01f), new TrainerOptions { Epochs = 12, ClipNorm = 5f });
        trainer.Fit(model, _ => Batching.Batches(lengths, 32, shuffle)
            .Select(b => SequenceBatch.FromFeatures(train.Sequences, 2, b, trainY, standardizer: standardizer)));

        var result = ClassifierEvaluation.Evaluate(model, test.Sequences, testY, standardizer);
        TestContext.Current.TestOutputHelper?.WriteLine($"waveforms, library: test accuracy {result.Accuracy:F4}, macro-F1 {result.MacroF1:F4}");
        Assert.True(result.Accuracy >= 0.9, $"test accuracy {result.Accuracy:F3}, macro-F1 {result.MacroF1:F3}");
        Assert.Equal(300, result.Predicted.Length);
        Assert.Equal(300, Enumerable.Range(0, 3).Sum(t => Enumerable.Range(0, 3).Sum(p => result.Confusion[t, p])));

        // Saved with its statistics, labels and the task name, the model predicts the same from raw values.
        using var d = new TempDir();
        string path = Path.Combine(d.Path, "waves.recur");
        ModelFile.Save(path, new ModelBundle { Model = model, Labels = labels.Labels, Preprocessing = new ModelPreprocessing { Standardizer = standardizer } }.WithTask("sequence"));
        var loaded = ModelFile.Load(path);
        Assert.Equal("sequence", loaded.Metadata["config.task"]);
        for (int i = 0; i < 10; i++) Assert.Equal(labels[result.Predicted[i]], loaded.ClassifySequence(test.Sequences[i]).Label);
    }

    [Fact]
    public void A_regressor_model_file_round_trips_and_regresses_raw_sequences()
    {
        var model = new PooledSequenceRegressor(new PooledRegressorConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 2, HiddenSize = 4, Bidirectional = true }, Pooling = Pooling.Mean,
        }, new Rng(5));
        var standardizer = new Standardizer([1f, -2f], [2f, 0.5f]);
        using var d = new TempDir();
        string path = Path.Combine(d.Path, "r.recur");
        ModelFile.Save(path, new ModelBundle { Model = model, Preprocessing = new ModelPreprocessing { Standardizer = standardizer } });
        var b = ModelFile.Load(path);
        Assert.Equal("sequence_regressor", ModelKinds.For(b.Model).Name);
        Assert.StartsWith("sequence regressor: 2 features -> 1-layer bidirectional Lstm 4 -> Mean pooling -> linear 1 value", ModelKinds.For(b.Model).Describe(b.Model));
        float[] raw = [3, -1, 5, -2.5f, 1, -2];
        var z = SequenceBatch.FromFeatures([raw], 2, standardizer: standardizer);
        Assert.Equal([1f, 2, 2, -1, 0, 0], z.Features!.ToArray());
        Assert.Equal(model.Predict(z).Span[0], b.RegressSequence(raw));
        Assert.Throws<ArgumentException>(() => b.RegressSequence([1f, 2f, 3f]));
        Assert.Throws<InvalidOperationException>(() => b.ClassifySequence(raw));
    }

    [Fact]
    public void WithTask_adds_the_configuration_the_tool_reads_and_refuses_flag_style_names()
    {
        var model = new PooledSequenceRegressor(new PooledRegressorConfig { Encoder = new EncoderConfig { InputFeatures = 1, HiddenSize = 2 } }, new Rng(1));
        var b = new ModelBundle { Model = model, Metadata = new Dictionary<string, string> { ["note"] = "kept" } }
            .WithTask("sequence", new Dictionary<string, string> { ["label-column"] = "target" });
        Assert.Equal("sequence", b.Metadata["config.task"]);
        Assert.Equal("target", b.Metadata["config.label-column"]);
        Assert.Equal("kept", b.Metadata["note"]);
        Assert.Throws<ArgumentException>(() => b.WithTask("sequence", new Dictionary<string, string> { ["--label-column"] = "x" }));
    }
}
