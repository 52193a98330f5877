using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Scoring;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Training;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train --task sequence` end to end on generated waveforms (sine, square, sawtooth; two sensors; variable
/// lengths) written as NumPy files and long CSV by the tests: classification and regression, evaluate, predict and
/// export; errors that name the file, line and field; and a model trained with library code used by the tool.
/// </summary>
public class SequenceTaskTests
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>An .npz of the set: x (N, Tmax, 2) float32 NaN-padded (or with a lengths array), y as strings.</summary>
    internal static byte[] Npz(WaveformSet set, bool lengthsArray)
    {
        int n = set.Sequences.Length, t = set.Sequences.Max(s => s.Length / 2);
        var x = new float[n * t * 2];
        for (int i = 0; i < n; i++)
        {
            var s = set.Sequences[i];
            s.CopyTo(x, i * t * 2);
            for (int k = s.Length; k < t * 2; k++) x[i * t * 2 + k] = lengthsArray ? 123f : float.NaN;   // values past a given length are ignored
        }
        var arrays = new List<(string, byte[])> { ("x", NpyWriter.Float32(x, n, t, 2)), ("y", NpyWriter.Unicode(set.Shapes, 8)) };
        if (lengthsArray) arrays.Add(("lengths", NpyWriter.Int64([.. set.Sequences.Select(s => (long)(s.Length / 2))], n)));
        return NpyWriter.Npz(compressed: true, [.. arrays]);
    }

    /// <summary>The long CSV of the set: sequence_id, step, s0, s1, then the shape and the period.</summary>
    internal static string LongCsv(WaveformSet set, bool labels = true)
    {
        var sb = new StringBuilder(labels ? "sequence_id,step,s0,s1,shape,period\n" : "sequence_id,step,s0,s1\n");
        for (int i = 0; i < set.Sequences.Length; i++)
            for (int t = 0; t < set.Sequences[i].Length / 2; t++)
                sb.Append(Inv, $"w{i},{t},{set.Sequences[i][2 * t]:R},{set.Sequences[i][2 * t + 1]:R}")
                  .Append(labels ? string.Create(Inv, $",{set.Shapes[i]},{set.Periods[i]:R}\n") : "\n");
        return sb.ToString();
    }

    private static async Task<Dictionary<string, double>> EvaluateJson(params string[] args)
    {
        var (code, stdout, stderr) = await CliRunner.Run(["evaluate", .. args, "--json", "-"]);
        Assert.True(code == 0, stdout + stderr);
        return JsonSerializer.Deserialize<Dictionary<string, double>>(stdout)!;
    }

    [Fact]
    public async Task Classifies_waveforms_from_npz_then_evaluates_predicts_and_exports()
    {
        using var d = new TempDir();
        var train = SyntheticWaveforms.Generate(600, new Rng(21));
        var test = SyntheticWaveforms.Generate(300, new Rng(22));
        string trainPath = d.Bytes("train.npz", Npz(train, lengthsArray: false));
        string testPath = d.Bytes("test.npz", Npz(test, lengthsArray: true));
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "sequence", "--data", trainPath, "--test", testPath, "--cell", "gru", "--hidden", "32",
            "--pooling", "mean", "--lr", "0.01", "--epochs", "10", "--output", run);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("540 training / 60 validation sequences of 20-60 steps x 2 features, 3 classes", stdout);
        string model = Path.Combine(run, "model.recur");

        var m = await EvaluateJson("--model", model, "--data", testPath);
        TestContext.Current.TestOutputHelper?.WriteLine($"waveforms, recur train: test accuracy {m["accuracy"]:F4}, macro-F1 {m["macro_f1"]:F4}");
        Assert.True(m["accuracy"] >= 0.9, $"test accuracy {m["accuracy"]}");
        Assert.InRange(m["macro_f1"], m["accuracy"] - 0.05, 1);

        // predict: one line per sequence, "index TAB label TAB p"; its labels score exactly what evaluate reported.
        var (pc, pout, perr) = await CliRunner.Run("predict", "--model", model, "--input", testPath);
        Assert.True(pc == 0, pout + perr);
        var lines = pout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(300, lines.Length);
        var cells = lines.Select(l => l.Split('\t')).ToList();
        Assert.Equal([.. Enumerable.Range(0, 300).Select(i => i.ToString(Inv))], cells.Select(c => c[0]));
        Assert.All(cells, c => Assert.Contains(c[1], SyntheticWaveforms.Shapes));
        double agree = cells.Count(c => c[1] == test.Shapes[int.Parse(c[0], Inv)]) / 300.0;
        Assert.Equal(m["accuracy"], agree, 12);

        // The same sequences as a long CSV on standard input, without labels, predict the same.
        var (sc, sout, serr) = await CliRunner.Run(["predict", "--model", model, "--format", "jsonl"], null, stdin: LongCsv(test, labels: false));
        Assert.True(sc == 0, sout + serr);
        var json = sout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(300, json.Count);
        for (int i = 0; i < 300; i++)
        {
            Assert.Equal($"w{i}", json[i].GetProperty("id").GetString());
            Assert.Equal(cells[i][1], json[i].GetProperty("label").GetString());
        }

        string onnx = Path.Combine(d.Path, "waves.onnx");
        var (ec, eout, eerr) = await CliRunner.Run("export", model, "--onnx", onnx);
        Assert.True(ec == 0, eout + eerr);
        Assert.True(new FileInfo(onnx).Length > 1000);
    }

    [Fact]
    public async Task Regresses_the_period_from_a_long_csv_and_beats_the_mean()
    {
        using var d = new TempDir();
        var train = SyntheticWaveforms.Generate(450, new Rng(31), noise: 0.1);
        var test = SyntheticWaveforms.Generate(150, new Rng(32), noise: 0.1);
        string trainPath = d.File("train.csv", LongCsv(train));
        string testPath = d.File("test.csv", LongCsv(test));
        string run = Path.Combine(d.Path, "reg");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "sequence", "--data", trainPath, "--label-column", "period", "--feature-columns", "s0,s1", "--regression", "true",
            "--cell", "gru", "--hidden", "32", "--pooling", "mean", "--lr", "0.01", "--epochs", "12", "--output", run);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("regression (one value per sequence)", stdout);
        string model = Path.Combine(run, "model.recur");
        var m = await EvaluateJson("--model", model, "--data", testPath);
        // The mean predictor's RMSE is the targets' standard deviation (periods uniform in [4, 16]: about 3.5).
        double mean = train.Periods.Average(p => (double)p);
        double baseline = Math.Sqrt(test.Periods.Average(p => (p - mean) * (p - mean)));
        TestContext.Current.TestOutputHelper?.WriteLine($"waveform period, recur train: test rmse {m["rmse"]:F4}, mae {m["mae"]:F4}; mean predictor rmse {baseline:F4}");
        Assert.True(m["rmse"] < 0.5 * baseline, $"rmse {m["rmse"]:F3} vs the mean's {baseline:F3}");
        Assert.True(m["mae"] <= m["rmse"]);

        var (pc, pout, perr) = await CliRunner.Run("predict", "--model", model, "--input", testPath);
        Assert.True(pc == 0, pout + perr);
        var values = pout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')).ToList();
        Assert.Equal(150, values.Count);
        double rmse = Math.Sqrt(values.Select((c, i) => Math.Pow(double.Parse(c[1], Inv) - test.Periods[i], 2)).Average());
        Assert.Equal(m["rmse"], rmse, 3);   // predict prints 6 significant digits

        string onnx = Path.Combine(d.Path, "reg.onnx");
        Assert.Equal(0, (await CliRunner.Run("export", model, "--onnx", onnx)).ExitCode);
    }

    [Fact]
    public async Task Npy_features_take_their_labels_from_labels_options_and_bad_input_is_named()
    {
        using var d = new TempDir();
        var set = SyntheticWaveforms.Generate(30, new Rng(41), minLength: 5, maxLength: 5);
        var x = set.Sequences.SelectMany(s => s).ToArray();
        string xPath = d.Bytes("x.npy", NpyWriter.Float32(x, 30, 5, 2));
        string yPath = d.File("y.txt", string.Join("\n", set.Shapes) + "\n");
        string run = Path.Combine(d.Path, "npy");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "sequence", "--data", xPath, "--labels", yPath, "--valid", xPath, "--valid-labels", yPath,
            "--hidden", "4", "--epochs", "1", "--output", run);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("30 training / 30 validation sequences of 5 steps x 2 features, 3 classes", stdout);
        string model = Path.Combine(run, "model.recur");
        // The training run's --labels belong to its .npy: data evaluated later brings its own, never the stored ones.
        string other = d.Bytes("other.npy", NpyWriter.Float32(x, 30, 5, 2));
        var (oc, _, oerr) = await CliRunner.Run("evaluate", "--model", model, "--data", other);
        Assert.Equal(1, oc);
        Assert.Contains($"{other}: labels: expected labels for the .npy features, found none (give them with --labels FILE", oerr);
        var first = await EvaluateJson("--model", model, "--data", other, "--labels", yPath);
        Assert.Equal(first["accuracy"], (await EvaluateJson("--model", model, "--data", xPath, "--labels", yPath))["accuracy"]);

        var (nc, _, nerr) = await CliRunner.Run("train", "--task", "sequence", "--data", xPath, "--output", Path.Combine(d.Path, "n"));
        Assert.Equal(1, nc);
        Assert.Contains($"{xPath}: labels: expected labels for the .npy features, found none (give them with --labels FILE", nerr);
        Assert.False(Directory.Exists(Path.Combine(d.Path, "n")));

        string csv = d.File("bad.csv", "sequence_id,step,a,label\ns1,0,1,up\ns1,1,2,down\ns2,0,1,up\ns2,1,1,up\n");
        var (bc, _, berr) = await CliRunner.Run("train", "--task", "sequence", "--data", csv, "--output", Path.Combine(d.Path, "b"));
        Assert.Equal(1, bc);
        Assert.Contains($"{csv}: line 3 field 'label': expected the label of sequence 's1' on every row ('up' on line 2), found 'down'", berr);

        string npz = d.Bytes("s.npz", Npz(set, lengthsArray: false));
        var (zc, _, zerr) = await CliRunner.Run("train", "--task", "sequence", "--data", npz, "--labels", yPath, "--output", Path.Combine(d.Path, "z"));
        Assert.Equal(1, zc);
        Assert.Contains($"--labels: {npz} is an .npz, which holds its labels as the array 'y'", zerr);
    }

    [Fact]
    public async Task A_model_trained_with_library_code_works_with_evaluate_and_predict_once_it_names_its_task()
    {
        using var d = new TempDir();
        var train = SyntheticWaveforms.Generate(300, new Rng(51));
        var test = SyntheticWaveforms.Generate(90, new Rng(52));
        var labels = LabelMap.FromData(train.Shapes);
        int[] y = [.. train.Shapes.Select(s => labels.IndexOf(s, "train", "label"))];
        var standardizer = Standardizer.FitFrames(train.Sequences, s => s, s => s.Length / 2, 2);
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 2, Cell = RecurrentMode.Gru, HiddenSize = 16 }, Pooling = Pooling.Mean, Classes = 3,
        }, new Rng(53));
        var shuffle = new Rng(54);
        int[] lengths = [.. train.Sequences.Select(s => s.Length / 2)];
        new Trainer<SequenceBatch>(new Adam(model.Parameters(), 0.01f), new TrainerOptions { Epochs = 3 })
            .Fit(model, _ => Batching.Batches(lengths, 32, shuffle).Select(b => SequenceBatch.FromFeatures(train.Sequences, 2, b, y, standardizer: standardizer)));
        var library = ClassifierEvaluation.Evaluate(model, test.Sequences, [.. test.Shapes.Select(s => labels.IndexOf(s, "test", "label"))], standardizer);

        var bundle = new ModelBundle { Model = model, Labels = labels.Labels, Preprocessing = new ModelPreprocessing { Standardizer = standardizer } };
        string bare = Path.Combine(d.Path, "bare.recur");
        ModelFile.Save(bare, bundle);
        string testPath = d.Bytes("test.npz", Npz(test, lengthsArray: true));
        var (bc, _, berr) = await CliRunner.Run("evaluate", "--model", bare, "--data", testPath);
        Assert.Equal(1, bc);
        Assert.Contains("expected the training configuration `recur train` stores, found none (a model trained with library code: save it with ModelBundle.WithTask(task, options) to add it", berr);

        string named = Path.Combine(d.Path, "named.recur");
        ModelFile.Save(named, bundle.WithTask("sequence"));
        var m = await EvaluateJson("--model", named, "--data", testPath);
        Assert.Equal(library.Accuracy, m["accuracy"], 12);
        Assert.Equal(library.MacroF1, m["macro_f1"], 12);
        var (pc, pout, perr) = await CliRunner.Run("predict", "--model", named, "--input", testPath);
        Assert.True(pc == 0, pout + perr);
        Assert.Equal([.. library.Predicted.Select(p => labels[p])], pout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('\t')[1]));
    }
}
