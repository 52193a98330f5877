using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Recur.IO.Onnx;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Tests.Support;
using RTensor = Recur.Tensors.Tensor;

namespace Recur.Tests.Interop;

/// <summary>Every exported graph runs in ONNX Runtime and matches Recur's outputs within 1e-4.</summary>
public class OnnxExportTests
{
    private static float[] Run(string path, Dictionary<string, NamedOnnxValue> inputs, string output, out int[] shape)
    {
        using var session = new InferenceSession(path);
        using var results = session.Run(inputs.Values.ToList());
        var t = results.First(r => r.Name == output).AsTensor<float>();
        shape = t.Dimensions.ToArray();
        return t.ToArray();
    }

    private static NamedOnnxValue Floats(string name, float[] data, params int[] dims) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(data, dims));
    private static NamedOnnxValue Ints(string name, int[] data) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<int>(data, [data.Length]));
    private static NamedOnnxValue Longs(string name, long[] data, params int[] dims) => NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(data, dims));

    public static TheoryData<RecurrentMode, int, bool> StackConfigs()
    {
        var d = new TheoryData<RecurrentMode, int, bool>();
        foreach (var m in Enum.GetValues<RecurrentMode>())
        {
            d.Add(m, 1, false);
            d.Add(m, 2, true);
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(StackConfigs))]
    public void RecurrentStacksWithVariableLengthsMatchOnnxRuntime(RecurrentMode mode, int layers, bool bidirectional)
    {
        using var dir = new TempDir();
        int t = 6, b = 4, i = 5, h = 7;
        var layer = new Recurrent(mode, i, h, layers, bidirectional, rng: new Rng(1)) { Training = false };
        var x = new float[t * b * i];
        new Rng(2).FillUniform(x, -1, 1);
        int[] lengths = [6, 3, 1, 5];
        using var r = layer.Forward(RTensor.FromArray(x, t, b, i), lengths, requiresGrad: false);
        string path = Path.Combine(dir.Path, "rnn.onnx");
        var sig = OnnxExport.Export(layer, path);
        Assert.Equal(["input", "lengths"], sig.Inputs);
        var inputs = new Dictionary<string, NamedOnnxValue> { ["input"] = Floats("input", x, t, b, i), ["lengths"] = Ints("lengths", lengths) };
        var y = Run(path, inputs, "output", out var yShape);
        Assert.Equal([t, b, layer.OutputSize], yShape);
        var hidden = Run(path, inputs, "hidden", out _);
        var report = new Compare.Report(1e-4);
        report.Check("output", y, r.Output.ToArray());
        report.Check("hidden", hidden, r.HiddenState.ToArray());
        report.AssertAll();
    }

    [Theory]
    [InlineData(Pooling.Last, RecurrentMode.Lstm)]
    [InlineData(Pooling.Mean, RecurrentMode.Gru)]
    public void ClassifiersRunInOnnxRuntimeWithoutRecur(Pooling pooling, RecurrentMode cell)
    {
        using var dir = new TempDir();
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 20, EmbeddingDim = 8, Cell = cell, HiddenSize = 9, Layers = 2, Bidirectional = true },
            Pooling = pooling,
            Classes = 3,
        }, new Rng(3)) { Training = false };
        List<int[]> seqs = [[3, 4, 5, 6], [7, 8], [9, 10, 11, 12, 13], [2]];
        var batch = SequenceBatch.FromTokens(seqs, [0, 1, 2, 3]);
        var expected = model.Predict(batch);
        string path = Path.Combine(dir.Path, "clf.onnx");
        OnnxExport.Export(model, path);
        // ONNX is time-major: tokens (T, B).
        var tokens = new long[batch.Steps * batch.Batch];
        for (int k = 0; k < batch.Batch; k++)
            for (int s = 0; s < batch.Steps; s++) tokens[s * batch.Batch + k] = batch.Tokens![k * batch.Steps + s];
        var inputs = new Dictionary<string, NamedOnnxValue>
        {
            ["tokens"] = Longs("tokens", tokens, batch.Steps, batch.Batch),
            ["lengths"] = Ints("lengths", batch.Lengths),
        };
        var probs = Run(path, inputs, "probabilities", out var shape);
        Assert.Equal([4, 3], shape);
        var report = new Compare.Report(1e-4);
        report.Check("probabilities", probs, expected.ToArray());
        report.AssertAll();
    }

    [Theory]
    [InlineData(Pooling.Last, RecurrentMode.Lstm)]
    [InlineData(Pooling.Mean, RecurrentMode.Gru)]
    public void SequenceRegressorsOverFeaturesMatchOnnxRuntime(Pooling pooling, RecurrentMode cell)
    {
        using var dir = new TempDir();
        var model = new PooledSequenceRegressor(new PooledRegressorConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 3, Cell = cell, HiddenSize = 6, Layers = 2, Bidirectional = true },
            Pooling = pooling,
            Outputs = 2,
        }, new Rng(8)) { Training = false };
        var rng = new Rng(9);
        float[][] seqs = [.. new[] { 4, 2, 5, 1 }.Select(l => { var a = new float[l * 3]; rng.FillUniform(a, -1, 1); return a; })];
        var batch = SequenceBatch.FromFeatures(seqs, 3);
        var expected = model.Predict(batch);
        string path = Path.Combine(dir.Path, "reg.onnx");
        var sig = OnnxExport.Export(model, path);
        Assert.Equal(["features", "lengths"], sig.Inputs);
        Assert.Equal(["values"], sig.Outputs);
        // ONNX is time-major: features (T, B, F); padded steps are zeros, past each length.
        int t = batch.Steps, b = batch.Batch;
        var x = new float[t * b * 3];
        var src = batch.Features!.ToArray();
        for (int k = 0; k < b; k++)
            for (int s = 0; s < t; s++)
                for (int f = 0; f < 3; f++) x[(s * b + k) * 3 + f] = src[(k * t + s) * 3 + f];
        var values = Run(path, new() { ["features"] = Floats("features", x, t, b, 3), ["lengths"] = Ints("lengths", batch.Lengths) }, "values", out var shape);
        Assert.Equal([4, 2], shape);
        var report = new Compare.Report(1e-4);
        report.Check("values", values, expected.ToArray());
        report.AssertAll();
    }

    [Fact]
    public void LanguageModelLogitsMatchOnnxRuntime()
    {
        using var dir = new TempDir();
        var lm = new LanguageModel(new LanguageModelConfig { Encoder = new EncoderConfig { VocabularySize = 11, EmbeddingDim = 6, HiddenSize = 8, Layers = 2 } }, new Rng(4)) { Training = false };
        int[] ids = [3, 5, 7, 2, 9];
        var batch = new SequenceBatch { Tokens = ids, Lengths = [5], Steps = 5 };
        using var pass = lm.Encoder.Forward(batch, requiresGrad: false);
        var expected = lm.Head.Forward(pass.Rnn.Output).Output;
        string path = Path.Combine(dir.Path, "lm.onnx");
        OnnxExport.Export(lm, path);
        var logits = Run(path, new() { ["tokens"] = Longs("tokens", ids.Select(v => (long)v).ToArray(), 5, 1) }, "logits", out var shape);
        Assert.Equal([5, 1, 11], shape);
        var report = new Compare.Report(1e-4);
        report.Check("logits", logits, expected.ToArray());
        report.AssertAll();
    }

    [Fact]
    public void MaxPoolingIsRefusedWithAClearMessage()
    {
        var model = new SequenceClassifier(new ClassifierConfig { Encoder = new EncoderConfig { VocabularySize = 5, HiddenSize = 3 }, Pooling = Pooling.Max, Classes = 2 }, new Rng(1));
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.Export(model, Path.Combine(Path.GetTempPath(), "never.onnx")));
        Assert.Contains("max pooling", e.Message);
    }
}
