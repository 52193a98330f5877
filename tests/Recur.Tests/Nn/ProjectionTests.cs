using Recur.IO;
using Recur.IO.Onnx;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Data;
using Recur.Tests.Reference;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

/// <summary>
/// LSTM with a projection (LSTMP, PyTorch's proj_size) beyond the twin and golden comparisons in
/// <see cref="RecurrentTests"/>: its shapes and validation, both kinds of dropout, streaming state, model files,
/// models built on it, and ONNX export's refusal.
/// </summary>
public class ProjectionTests
{
    private static double[] D(float[] a) => a.Select(v => (double)v).ToArray();

    [Fact]
    public void Parameters_states_and_outputs_have_pytorchs_projected_shapes()
    {
        var lstm = new Lstm(3, 6, numLayers: 2, bidirectional: true, projSize: 4, rng: new Rng(1));
        Assert.Equal(4, lstm.ProjSize);
        Assert.Equal(4, lstm.StateSize);
        Assert.Equal(8, lstm.OutputSize);
        var shapes = lstm.NamedParameters().ToDictionary(p => p.Key, p => p.Value.Value.Shape.ToArray());
        Assert.Equal([24, 3], shapes["weight_ih_l0"]);
        Assert.Equal([24, 4], shapes["weight_hh_l0"]);
        Assert.Equal([4, 6], shapes["weight_hr_l0"]);
        Assert.Equal([4, 6], shapes["weight_hr_l1_reverse"]);
        Assert.Equal([24, 8], shapes["weight_ih_l1"]);
        // PyTorch's state_dict order: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr per layer and direction.
        Assert.Equal(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"], shapes.Keys.Take(5));
        using var r = lstm.Forward(new Tensor(5, 2, 3));
        Assert.Equal([5, 2, 8], r.Output.Shape.ToArray());
        Assert.Equal([4, 2, 4], r.HiddenState.Shape.ToArray());
        Assert.Equal([4, 2, 6], r.CellState!.Shape.ToArray());
        // Without a projection nothing changes: no weight_hr, h is H wide.
        Assert.DoesNotContain(new Lstm(3, 6).NamedParameters(), p => p.Key.StartsWith("weight_hr", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_projections_and_state_shapes_are_errors_naming_the_argument()
    {
        var gru = Assert.Throws<ArgumentException>(() => new Recurrent(RecurrentMode.Gru, 3, 6, projSize: 2));
        Assert.Equal("projSize", gru.ParamName);
        Assert.Contains("only for LSTM", gru.Message);
        var big = Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm(3, 6, projSize: 6));
        Assert.Contains("smaller than hiddenSize (6)", big.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Lstm(3, 6, projSize: -1));
        var lstm = new Lstm(3, 6, projSize: 2);
        // h0 is P wide, c0 H wide.
        var h0 = Assert.Throws<ArgumentException>(() => lstm.Forward(new Tensor(4, 2, 3), h0: new Tensor(1, 2, 6)));
        Assert.Contains("(NumLayers*Directions, B, P) = (1, 2, 2)", h0.Message);
        var c0 = Assert.Throws<ArgumentException>(() => lstm.Forward(new Tensor(4, 2, 3), c0: new Tensor(1, 2, 2)));
        Assert.Contains("(NumLayers*Directions, B, H) = (1, 2, 6)", c0.Message);
        var enc = Assert.Throws<ArgumentException>(() => new SequenceEncoder(new EncoderConfig { InputFeatures = 3, HiddenSize = 6, Cell = RecurrentMode.Gru, ProjSize = 2 }, new Rng(0)));
        Assert.Contains("ProjSize", enc.Message);
    }

    [Fact]
    public void Recurrent_dropout_masks_the_projected_state_and_matches_the_twin()
    {
        var c = new RecurrentTests.Config(RecurrentMode.Lstm, 2, true, true, false, true, true, T: 5, B: 6, I: 3, H: 5, P: 3);
        var layer = new Lstm(c.I, c.H, c.Layers, c.Bidirectional, rng: new Rng(1), recurrentDropout: 0.5f, projSize: c.P);
        var reference = new RecurrentReference(RecurrentMode.Lstm, c.I, c.H, c.Layers, c.Bidirectional, true, c.P);
        foreach (var (name, p) in layer.NamedParameters()) reference.Params[name] = D(p.Value.ToArray());
        var rng = new Rng(2);
        int[] lens = RecurrentTests.Lengths(c);
        int LD = c.Layers * 2;
        float[] x = RecurrentTests.RandomArray(rng, c.T * c.B * c.I), h0 = RecurrentTests.RandomArray(rng, LD * c.B * c.P);
        float[] c0 = RecurrentTests.RandomArray(rng, LD * c.B * c.H);
        float[] dy = RecurrentTests.RandomArray(rng, c.T * c.B * 2 * c.P), dhn = RecurrentTests.RandomArray(rng, LD * c.B * c.P);
        using var r = layer.Forward(Tensor.FromArray(x, c.T, c.B, c.I), lens, Tensor.FromArray(h0, LD, c.B, c.P), Tensor.FromArray(c0, LD, c.B, c.H));
        var g = r.Backward(Tensor.FromArray(dy, c.T, c.B, 2 * c.P), Tensor.FromArray(dhn, LD, c.B, c.P));

        var masks = new double[LD][];
        for (int k = 0; k < LD; k++)
        {
            var m = r.RecurrentMaskOriginal(k / 2, k % 2)!;
            Assert.Equal(c.B * c.P, m.Length);   // one mask value per unit of the projected h
            Assert.Contains(0f, m);
            Assert.Contains(2f, m);
            masks[k] = D(m);
        }
        reference.RecurrentMasks = masks;
        var fwd = reference.Forward(D(x), c.T, c.B, lens, D(h0), D(c0));
        var bwd = reference.Backward(fwd, c.T, c.B, lens, D(dy), D(dhn), null);
        var report = new Compare.Report(2e-5);
        report.Check("y", r.Output.Span, fwd.Y);
        report.Check("h_n", r.HiddenState.Span, fwd.Hn);
        report.Check("c_n", r.CellState!.Span, fwd.Cn);
        report.Check("dx", g.Input.Span, bwd.X);
        report.Check("dh0", g.HiddenState.Span, bwd.H0);
        report.Check("dc0", g.CellState!.Span, bwd.C0);
        foreach (var (name, p) in layer.NamedParameters()) report.Check($"d{name}", p.Grad.Span, bwd.Params[name]);
        report.AssertAll();
    }

    [Fact]
    public void Dropout_between_projected_layers_is_the_two_layers_run_one_after_the_other_through_the_mask()
    {
        int T = 4, B = 3, I = 3, H = 6, P = 4;
        var stacked = new Lstm(I, H, numLayers: 2, dropout: 0.4f, rng: new Rng(1), projSize: P);
        var first = new Lstm(I, H, rng: new Rng(10), projSize: P);
        var second = new Lstm(P, H, rng: new Rng(11), projSize: P);
        var sd = stacked.StateDict();
        string[] names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"];
        first.LoadStateDict(names.ToDictionary(n => n + "_l0", n => sd[n + "_l0"]));
        second.LoadStateDict(names.ToDictionary(n => n + "_l0", n => sd[n + "_l1"]));
        var rng = new Rng(2);
        var x = Tensor.FromArray(RecurrentTests.RandomArray(rng, T * B * I), T, B, I);
        var dy = Tensor.FromArray(RecurrentTests.RandomArray(rng, T * B * P), T, B, P);

        stacked.Training = false;
        using (var eval = stacked.Forward(x))
        using (var y1 = first.Forward(x))
        using (var y2 = second.Forward(y1.Output))
            Assert.Equal(y2.Output.ToArray(), eval.Output.ToArray());

        stacked.Training = true;
        using var train = stacked.Forward(x);
        var mask = train.DropoutMaskSorted(0)!;
        Assert.Equal(T * B * P, mask.Length);
        stacked.ZeroGrad();
        var g = train.Backward(dy);
        using var a = first.Forward(x);
        var dropped = a.Output.Clone();
        TensorPrimitives.Multiply(dropped.Span, mask, dropped.Span);
        using var b = second.Forward(dropped);
        var report = new Compare.Report(1e-6);
        report.Check("y", train.Output.Span, D(b.Output.ToArray()));
        var dIn = b.Backward(dy).Input.Clone();
        TensorPrimitives.Multiply(dIn.Span, mask, dIn.Span);
        var ga = a.Backward(dIn);
        report.Check("dx", g.Input.Span, D(ga.Input.ToArray()));
        report.Check("dW_hr_l1", stacked.StateDictGrad("weight_hr_l1"), D(second.NamedParameters().First(p => p.Key == "weight_hr_l0").Value.Grad.ToArray()));
        report.Check("dW_hr_l0", stacked.StateDictGrad("weight_hr_l0"), D(first.NamedParameters().First(p => p.Key == "weight_hr_l0").Value.Grad.ToArray()));
        report.AssertAll();
    }

    [Fact]
    public void Streaming_in_chunks_with_the_carried_state_gives_the_whole_sequences_outputs()
    {
        // Two layers, projected h (P) and cell state (H) carried from chunk to chunk, batch-first, lengths 12 and 12.
        int T = 12, B = 2, I = 3, H = 7, P = 3;
        var lstm = new Lstm(I, H, numLayers: 2, batchFirst: true, rng: new Rng(4), projSize: P);
        var x = RecurrentTests.RandomArray(new Rng(5), B * T * I);
        using var whole = lstm.Forward(Tensor.FromArray(x, B, T, I), requiresGrad: false);

        RecurrentState? state = null;
        var streamed = new float[B * T * P];
        int start = 0;
        foreach (int len in new[] { 5, 1, 6 })
        {
            var chunk = new float[B * len * I];
            for (int b = 0; b < B; b++) Array.Copy(x, (b * T + start) * I, chunk, b * len * I, len * I);
            using var r = lstm.Forward(Tensor.FromArray(chunk, B, len, I), null, state?.Hidden, state?.Cell, requiresGrad: false);
            for (int b = 0; b < B; b++) r.Output.Span.Slice(b * len * P, len * P).CopyTo(streamed.AsSpan((b * T + start) * P, len * P));
            state = RecurrentState.Detach(r);
            Assert.Equal([2, B, P], state.Hidden.Shape.ToArray());
            Assert.Equal([2, B, H], state.Cell!.Shape.ToArray());
            start += len;
        }
        var report = new Compare.Report(1e-6);
        report.Check("y", streamed, D(whole.Output.ToArray()));
        report.Check("h_n", state!.Hidden.Span, D(whole.HiddenState.ToArray()));
        report.Check("c_n", state.Cell!.Span, D(whole.CellState!.ToArray()));
        report.AssertAll();
    }

    [Fact]
    public void Model_files_keep_the_projection_and_give_the_same_outputs()
    {
        using var dir = new TempDir();
        var bare = new Recurrent(RecurrentMode.Lstm, 3, 6, 2, bidirectional: true, rng: new Rng(3), projSize: 2);
        var clf = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 3, HiddenSize = 6, ProjSize = 4, Layers = 2, Bidirectional = true },
            Classes = 3,
        }, new Rng(4));
        Assert.Equal(8, clf.Head.InFeatures);
        var x = RecurrentTests.RandomArray(new Rng(6), 5 * 2 * 3);
        var batch = new SequenceBatch { Features = Tensor.FromArray(x, 2, 5, 3), Lengths = [5, 3], Steps = 5 };

        string barePath = Path.Combine(dir.Path, "bare.recur"), clfPath = Path.Combine(dir.Path, "clf.recur");
        ModelFile.Save(barePath, new ModelBundle { Model = bare });
        ModelFile.Save(clfPath, new ModelBundle { Model = clf });
        var bare2 = Assert.IsType<Recurrent>(ModelFile.Load(barePath).Model);
        var clf2 = Assert.IsType<SequenceClassifier>(ModelFile.Load(clfPath).Model);
        Assert.Equal(2, bare2.ProjSize);
        Assert.Equal(4, clf2.Config.Encoder.ProjSize);
        Assert.Equal(4, clf2.Encoder.Rnn.ProjSize);
        Assert.Contains("proj_size 2", ModelKinds.For(bare2).Describe(bare2));
        Assert.Contains("proj_size 4", ModelKinds.For(clf2).Describe(clf2));

        using (var a = bare.Forward(Tensor.FromArray(x, 5, 2, 3)))
        using (var b = bare2.Forward(Tensor.FromArray(x, 5, 2, 3)))
            Assert.Equal(a.Output.ToArray(), b.Output.ToArray());
        clf.Training = clf2.Training = false;
        Assert.Equal(clf.Predict(batch).ToArray(), clf2.Predict(batch).ToArray());
    }

    [Fact]
    public void Onnx_export_refuses_a_projected_lstm_naming_proj_size_and_writes_nothing()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "m.onnx");
        var bare = new Recurrent(RecurrentMode.Lstm, 3, 6, rng: new Rng(3), projSize: 2);
        var e = Assert.Throws<NotSupportedException>(() => OnnxExport.Export(bare, path));
        Assert.Contains("proj_size 2", e.Message);
        Assert.False(File.Exists(path));
        var clf = new SequenceClassifier(new ClassifierConfig { Encoder = new EncoderConfig { InputFeatures = 3, HiddenSize = 6, ProjSize = 2 }, Classes = 2 }, new Rng(4));
        Assert.Contains("proj_size 2", Assert.Throws<NotSupportedException>(() => OnnxExport.Export(clf, path)).Message);
        Assert.False(File.Exists(path));
    }
}
