using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Tests.Golden;
using Recur.Tests.Support;

namespace Recur.Tests.Interop;

/// <summary>
/// PyTorch state dicts become Recur models that give PyTorch's outputs. Oracles: every golden recurrent case (a bare
/// torch.nn.RNN/LSTM/GRU state dict with PyTorch's y and h_n), and the models in tests/fixtures written by
/// tests/fixtures/make_torch_import.py with PyTorch 1.13 (embedding/feature classifiers with a linear head).
/// </summary>
public class TorchImportTests
{
    private const double Tolerance = 1e-4;
    private static string Fixture(string name) => Path.Combine(Repo.Root, "tests", "fixtures", name);

    public static TheoryData<string> RecurrentGoldenFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in GoldenTests.Files())
        {
            string file = f.Data;
            string path = Path.Combine(Repo.GoldenDir, file);
            if (File.Exists(path) && SafeTensorsFile.Load(path).Metadata.GetValueOrDefault("kind") != "recurrent") continue;
            data.Add(file);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(RecurrentGoldenFiles))]
    public void Golden_state_dicts_import_with_the_configuration_detected_from_the_tensors(string file)
    {
        string path = Path.Combine(Repo.GoldenDir, file);
        if (!File.Exists(path)) Assert.Skip($"no golden files in {Repo.GoldenDir}: set RECUR_GOLDEN_DIR or place the shared folder beside the repository");
        var st = SafeTensorsFile.Load(path);
        var meta = st.Metadata;
        var imported = TorchImport.Import(path, new TorchImportOptions { Relu = meta["mode"] == "rnn_relu", BatchFirst = GoldenTests.Flag(meta, "batch_first") });

        var rnn = Assert.IsType<Recurrent>(imported.Model);
        Assert.Equal(GoldenTests.ParseMode(meta["mode"]), rnn.Mode);
        Assert.Equal(GoldenTests.Int(meta, "input_size"), rnn.InputSize);
        Assert.Equal(GoldenTests.Int(meta, "hidden_size"), rnn.HiddenSize);
        Assert.Equal(GoldenTests.Int(meta, "num_layers"), rnn.NumLayers);
        Assert.Equal(GoldenTests.Flag(meta, "bidirectional"), rnn.Bidirectional);
        Assert.Equal(GoldenTests.Flag(meta, "bias"), rnn.HasBias);
        Assert.Equal(GoldenTests.ProjSize(meta), rnn.ProjSize);
        // Everything in a golden file that is not a parameter is data: inputs, outputs, gradients.
        Assert.All(imported.Ignored, n => Assert.False(n.StartsWith("weight_", StringComparison.Ordinal) || n.StartsWith("bias_", StringComparison.Ordinal), n));

        int[]? lengths = st.Contains("lengths") ? st.ReadInt64("lengths").Select(v => (int)v).ToArray() : null;
        using var result = rnn.Forward(st.ReadTensor("x"), lengths, st.Contains("h0") ? st.ReadTensor("h0") : null, st.Contains("c0") ? st.ReadTensor("c0") : null);
        var report = new Compare.Report(Tolerance);
        report.Check("y", result.Output.Span, st.ReadFloat64("y"));
        report.Check("h_n", result.HiddenState.Span, st.ReadFloat64("h_n"));
        if (st.Contains("c_n")) report.Check("c_n", result.CellState!.Span, st.ReadFloat64("c_n"));
        report.AssertAll();
    }

    [Fact]
    public void Embedding_bidirectional_lstm_and_linear_head_import_as_a_classifier_with_pytorchs_outputs()
    {
        string path = Fixture("torch_text_classifier.safetensors");
        var imported = TorchImport.Import(path);
        var clf = Assert.IsType<SequenceClassifier>(imported.Model);
        Assert.Equal(30, clf.Config.Encoder.VocabularySize);
        Assert.Equal(8, clf.Config.Encoder.EmbeddingDim);
        Assert.Equal(RecurrentMode.Lstm, clf.Config.Encoder.Cell);
        Assert.Equal(2, clf.Config.Encoder.Layers);
        Assert.True(clf.Config.Encoder.Bidirectional);
        Assert.Equal(3, clf.Config.Classes);
        Assert.Contains("'lstm.'", imported.Summary);
        Assert.Contains("'embedding.'", imported.Summary);
        Assert.Contains("'fc.'", imported.Summary);
        Assert.Equal(["expected.logits", "input.lengths", "input.tokens"], imported.Ignored);

        var st = SafeTensorsFile.Load(path);
        var tokens = st.ReadInt64("input.tokens").Select(v => (int)v).ToArray();
        var lengths = st.ReadInt64("input.lengths").Select(v => (int)v).ToArray();
        var batch = new SequenceBatch { Tokens = tokens, Lengths = lengths, Steps = st.Info("input.tokens").Shape[1] };
        AssertProbabilities(clf.Predict(batch), st.ReadFloat64("expected.logits"), lengths.Length);
    }

    [Fact]
    public void Feature_gru_with_a_head_on_the_top_state_imports_as_a_classifier_with_pytorchs_outputs()
    {
        string path = Fixture("torch_feature_classifier.safetensors");
        var imported = TorchImport.Import(path);
        var clf = Assert.IsType<SequenceClassifier>(imported.Model);
        Assert.Null(clf.Config.Encoder.VocabularySize);
        Assert.Equal(5, clf.Config.Encoder.InputFeatures);
        Assert.Equal(RecurrentMode.Gru, clf.Config.Encoder.Cell);
        Assert.Equal(4, clf.Config.Classes);

        var st = SafeTensorsFile.Load(path);
        var lengths = st.ReadInt64("input.lengths").Select(v => (int)v).ToArray();
        var batch = new SequenceBatch { Features = st.ReadTensor("input.features"), Lengths = lengths, Steps = st.Info("input.features").Shape[1] };
        AssertProbabilities(clf.Predict(batch), st.ReadFloat64("expected.logits"), lengths.Length);
    }

    [Fact]
    public void Relu_rnn_under_a_prefix_imports_time_major_when_asked()
    {
        string path = Fixture("torch_rnn_relu.safetensors");
        var imported = TorchImport.Import(path, new TorchImportOptions { Relu = true });
        var rnn = Assert.IsType<Recurrent>(imported.Model);
        Assert.Equal(RecurrentMode.RnnRelu, rnn.Mode);
        Assert.False(rnn.BatchFirst);
        var st = SafeTensorsFile.Load(path);
        using var result = rnn.Forward(st.ReadTensor("input.x"));
        var report = new Compare.Report(Tolerance);
        report.Check("y", result.Output.Span, st.ReadFloat64("expected.y"));
        report.Check("h_n", result.HiddenState.Span, st.ReadFloat64("expected.h_n"));
        report.AssertAll();

        // The nonlinearity is not in a state dict: importing as tanh gives different outputs, which is why it is an option.
        var tanh = Assert.IsType<Recurrent>(TorchImport.Import(path).Model);
        using var other = tanh.Forward(st.ReadTensor("input.x"));
        Assert.True(Compare.RelativeError(other.Output.Span, st.ReadFloat64("expected.y")) > 1e-2);
    }

    [Fact]
    public void Imported_models_save_as_recur_model_files_and_load_back_identical()
    {
        using var dir = new TempDir();
        foreach (var (fixture, options) in new[]
                 {
                     ("torch_text_classifier.safetensors", new TorchImportOptions()),
                     ("torch_rnn_relu.safetensors", new TorchImportOptions { Relu = true }),
                 })
        {
            var imported = TorchImport.Import(Fixture(fixture), options);
            string saved = Path.Combine(dir.Path, fixture + ".recur.safetensors");
            ModelFile.Save(saved, new ModelBundle { Model = imported.Model });
            var loaded = ModelFile.Load(saved).Model;
            Assert.Equal(imported.Model.GetType(), loaded.GetType());
            var a = imported.Model.NamedParameters().ToList();
            var b = loaded.NamedParameters().ToList();
            Assert.Equal(a.Select(kv => kv.Key), b.Select(kv => kv.Key));
            for (int i = 0; i < a.Count; i++) Assert.Equal(a[i].Value.Value.ToArray(), b[i].Value.Value.ToArray());
            if (loaded is Recurrent r) Assert.Equal(RecurrentMode.RnnRelu, r.Mode);
        }
    }

    [Fact]
    public void Files_without_a_recurrent_state_dict_are_rejected_naming_what_was_expected()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "linear.safetensors");
        SafeTensorsFile.Save(path, [new("fc.weight", new Tensor(3, 4)), new("fc.bias", new Tensor(3))]);
        var e = Assert.Throws<RecurFormatException>(() => TorchImport.Import(path));
        Assert.Contains("linear.safetensors", e.Message);
        Assert.Contains("weight_ih_l0", e.Message);

        // A two-layer LSTM missing its second layer's recurrent weight.
        string partial = Path.Combine(dir.Path, "partial.safetensors");
        SafeTensorsFile.Save(partial, [
            new("lstm.weight_ih_l0", new Tensor(8, 3)), new("lstm.weight_hh_l0", new Tensor(8, 2)),
            new("lstm.weight_ih_l1", new Tensor(8, 2)),
        ]);
        e = Assert.Throws<RecurFormatException>(() => TorchImport.Import(partial));
        Assert.Contains("lstm.weight_hh_l1", e.Message);
        Assert.Contains("2-layer", e.Message);

        // Five "gates" is no PyTorch module.
        string odd = Path.Combine(dir.Path, "odd.safetensors");
        SafeTensorsFile.Save(odd, [new("weight_ih_l0", new Tensor(10, 3)), new("weight_hh_l0", new Tensor(10, 2))]);
        e = Assert.Throws<RecurFormatException>(() => TorchImport.Import(odd));
        Assert.Contains("weight_hh_l0", e.Message);
        Assert.Contains("10 rows", e.Message);
    }

    private static void AssertProbabilities(Tensor probabilities, double[] logits, int batch)
    {
        int classes = logits.Length / batch;
        var expected = new double[logits.Length];
        for (int i = 0; i < batch; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            double max = row.ToArray().Max(), sum = 0;
            for (int c = 0; c < classes; c++) sum += Math.Exp(row[c] - max);
            for (int c = 0; c < classes; c++) expected[i * classes + c] = Math.Exp(row[c] - max) / sum;
        }
        var report = new Compare.Report(Tolerance);
        report.Check("probabilities", probabilities.Span, expected);
        report.AssertAll();
    }
}
