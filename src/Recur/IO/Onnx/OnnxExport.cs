using Recur.Models;
using Recur.Nn;

namespace Recur.IO.Onnx;

/// <summary>
/// Exports Recur models as standard ONNX graphs (opset 17) built from the RNN, LSTM and GRU operators, so they run in
/// ONNX Runtime (or any ONNX engine) with no Recur code. Time-major layout (ONNX Runtime's CPU kernels reject
/// batch-first): token inputs are int64 (T, B), feature inputs float (T, B, F), lengths int32 (B).
/// Gate orders are converted from PyTorch's to ONNX's: LSTM i,f,g,o to i,o,f,c; GRU r,z,n to z,r,h with
/// <c>linear_before_reset = 1</c> (PyTorch applies r after the recurrent product).
/// </summary>
public static class OnnxExport
{
    /// <summary>What an exported graph takes and gives, for documentation and callers.</summary>
    public sealed record Signature(IReadOnlyList<string> Inputs, IReadOnlyList<string> Outputs);

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> (atomically) and returns its signature.</summary>
    /// <remarks>
    /// Supported: <see cref="SequenceClassifier"/> (last or mean pooling; outputs <c>logits</c>, <c>probabilities</c>),
    /// <see cref="PooledSequenceRegressor"/> (last or mean pooling; output <c>values</c> (B, outputs)),
    /// <see cref="SequenceTagger"/> (<c>logits</c> (T, B, tags)), <see cref="LanguageModel"/> (<c>logits</c> (T, B, V)),
    /// and a bare <see cref="Recurrent"/> stack (<c>output</c> (T, B, D*H), <c>hidden</c> (L*D, B, H)).
    /// </remarks>
    public static Signature Export(Module model, string path)
    {
        ArgumentNullException.ThrowIfNull(model);
        var g = new OnnxGraph();
        var kind = ModelKinds.All.FirstOrDefault(k => k.Handles(model));
        if (kind is not { ExportsOnnx: true })
            throw new ArgumentException($"ONNX export supports {string.Join(", ", ModelKinds.All.Where(k => k.ExportsOnnx).Select(k => k.Name))} models, not {model.GetType().Name}", nameof(model));
        Signature sig = kind.ExportOnnx(g, model);
        var bytes = g.Serialize(model.GetType().Name, typeof(OnnxExport).Assembly.GetName().Version?.ToString() ?? "0");
        AtomicFile.Write(path, fs => fs.Write(bytes));
        return sig;
    }

    internal static Signature Classifier(OnnxGraph g, SequenceClassifier c)
    {
        var (pooled, inputs) = Pooled(g, c.Encoder, c.Config.Pooling);
        var head = c.Head;
        g.Node("Gemm", [pooled, g.Initializer("head.weight", head.Weight.Value.ToArray(), head.OutFeatures, head.InFeatures),
            g.Initializer("head.bias", head.Bias!.Value.ToArray(), head.OutFeatures)], ["logits"], ("transB", 1L));
        g.Node("Softmax", ["logits"], ["probabilities"], ("axis", -1L));
        g.Output("logits", OnnxGraph.ElementType.Float, [null, head.OutFeatures], ["batch"]);
        g.Output("probabilities", OnnxGraph.ElementType.Float, [null, head.OutFeatures], ["batch"]);
        return new Signature([.. inputs, "lengths"], ["logits", "probabilities"]);
    }

    internal static Signature Regressor(OnnxGraph g, PooledSequenceRegressor r)
    {
        var (pooled, inputs) = Pooled(g, r.Encoder, r.Config.Pooling);
        var head = r.Head;
        g.Node("Gemm", [pooled, g.Initializer("head.weight", head.Weight.Value.ToArray(), head.OutFeatures, head.InFeatures),
            g.Initializer("head.bias", head.Bias!.Value.ToArray(), head.OutFeatures)], ["values"], ("transB", 1L));
        g.Output("values", OnnxGraph.ElementType.Float, [null, head.OutFeatures], ["batch"]);
        return new Signature([.. inputs, "lengths"], ["values"]);
    }

    /// <summary>The encoder, its stack over <c>lengths</c>, and last or mean pooling: the (B, D*H) summary of each sequence.</summary>
    private static (string Pooled, List<string> Inputs) Pooled(OnnxGraph g, SequenceEncoder encoder, Pooling pooling)
    {
        if (pooling == Pooling.Max)
            throw new NotSupportedException("ONNX export of max pooling over variable lengths is not implemented yet; use last or mean pooling");
        var (input, inputs) = EncoderInput(g, encoder);
        g.Input("lengths", OnnxGraph.ElementType.Int32, [null], ["batch"]);
        var (seq, finals) = Stack(g, encoder.Rnn, input, "lengths");
        string pooled;
        if (pooling == Pooling.Last)
        {
            // Top layer's Y_h (D, B, H) -> (B, D, H) -> (B, D*H): directions concatenated as Recur's pooling does.
            string t = g.Name("last_t");
            g.Node("Transpose", [finals[^1]], [t], ("perm", new long[] { 1, 0, 2 }));
            pooled = g.Name("pooled");
            g.Node("Reshape", [t, g.Initializer(g.Name("shape"), new long[] { 0, -1 }, 2)], [pooled]);
        }
        else
        {
            // Mean over valid steps: outputs past each length are zero, so sum over time / max(length, 1).
            string sum = g.Name("sum");
            g.Node("ReduceSum", [seq, g.Initializer(g.Name("axes"), new long[] { 0 }, 1)], [sum], ("keepdims", 0L));
            string lf = g.Name("lengths_f"), lu = g.Name("lengths_u"), lm = g.Name("lengths_m");
            g.Node("Cast", ["lengths"], [lf], ("to", (long)OnnxGraph.ElementType.Float));
            g.Node("Unsqueeze", [lf, g.Initializer(g.Name("axes"), new long[] { 1 }, 1)], [lu]);
            g.Node("Max", [lu, g.Initializer(g.Name("one"), new float[] { 1f }, 1)], [lm]);
            pooled = g.Name("pooled");
            g.Node("Div", [sum, lm], [pooled]);
        }
        return (pooled, inputs);
    }

    internal static Signature Tagger(OnnxGraph g, SequenceTagger t)
    {
        var (input, inputs) = EncoderInput(g, t.Encoder);
        g.Input("lengths", OnnxGraph.ElementType.Int32, [null], ["batch"]);
        var (seq, _) = Stack(g, t.Encoder.Rnn, input, "lengths");
        PerStepHead(g, seq, t.Head, "logits");
        return new Signature([.. inputs, "lengths"], ["logits"]);
    }

    internal static Signature Lm(OnnxGraph g, LanguageModel lm)
    {
        var (input, inputs) = EncoderInput(g, lm.Encoder);
        var (seq, _) = Stack(g, lm.Encoder.Rnn, input, null);
        PerStepHead(g, seq, lm.Head, "logits");
        return new Signature(inputs, ["logits"]);
    }

    internal static Signature Bare(OnnxGraph g, Recurrent r)
    {
        g.Input("input", OnnxGraph.ElementType.Float, [null, null, r.InputSize], ["time", "batch"]);
        g.Input("lengths", OnnxGraph.ElementType.Int32, [null], ["batch"]);
        var (seq, finals) = Stack(g, r, "input", "lengths");
        g.Node("Identity", [seq], ["output"]);
        g.Node("Concat", [.. finals], ["hidden"], ("axis", 0L));
        g.Output("output", OnnxGraph.ElementType.Float, [null, null, r.OutputSize], ["time", "batch"]);
        g.Output("hidden", OnnxGraph.ElementType.Float, [r.NumLayers * r.Directions, null, r.HiddenSize], ["batch"]);
        return new Signature(["input", "lengths"], ["output", "hidden"]);
    }

    /// <summary>The encoder's input: token ids through a Gather on the embedding, or raw features.</summary>
    private static (string Input, List<string> Inputs) EncoderInput(OnnxGraph g, SequenceEncoder e)
    {
        if (e.Embedding is { } emb)
        {
            g.Input("tokens", OnnxGraph.ElementType.Int64, [null, null], ["time", "batch"]);
            string x = g.Name("embedded");
            g.Node("Gather", [g.Initializer("embedding.weight", emb.Weight.Value.ToArray(), emb.NumEmbeddings, emb.EmbeddingDim), "tokens"], [x], ("axis", 0L));
            return (x, ["tokens"]);
        }
        g.Input("features", OnnxGraph.ElementType.Float, [null, null, e.Config.InputFeatures!.Value], ["time", "batch"]);
        return ("features", ["features"]);
    }

    /// <summary>logits (T, B, out) = seq (T, B, in) W^T + b.</summary>
    private static void PerStepHead(OnnxGraph g, string seq, Linear head, string output)
    {
        var w = head.Weight.Value.ToArray();
        var wt = new float[w.Length];
        for (int o = 0; o < head.OutFeatures; o++)
            for (int i = 0; i < head.InFeatures; i++) wt[i * head.OutFeatures + o] = w[o * head.InFeatures + i];
        string mm = g.Name("matmul");
        g.Node("MatMul", [seq, g.Initializer("head.weight_t", wt, head.InFeatures, head.OutFeatures)], [mm]);
        g.Node("Add", [mm, g.Initializer("head.bias", head.Bias!.Value.ToArray(), head.OutFeatures)], [output]);
        g.Output(output, OnnxGraph.ElementType.Float, [null, null, head.OutFeatures], ["time", "batch"]);
    }

    /// <summary>One ONNX recurrent node per layer; returns the top layer's (T, B, D*H) output and each layer's Y_h.</summary>
    private static (string Sequence, List<string> Finals) Stack(OnnxGraph g, Recurrent r, string input, string? lengths)
    {
        if (r.ProjSize > 0)
            throw new NotSupportedException(
                $"the LSTM has a projection (proj_size {r.ProjSize}), which ONNX's LSTM operator does not have; this export does not decompose it, so it writes nothing rather than a graph that computes something else");
        int d = r.Directions, h = r.HiddenSize, gates = r.Cell.GateCount;
        string op = r.Mode switch { RecurrentMode.Lstm => "LSTM", RecurrentMode.Gru => "GRU", _ => "RNN" };
        // ONNX block order, as indices of PyTorch's gate blocks.
        int[] order = r.Mode switch { RecurrentMode.Lstm => [0, 3, 1, 2], RecurrentMode.Gru => [1, 0, 2], _ => [0] };
        var finals = new List<string>();
        string x = input;
        for (int l = 0; l < r.NumLayers; l++)
        {
            int inSize = l == 0 ? r.InputSize : d * h;
            var w = new float[d * gates * h * inSize];
            var rr = new float[d * gates * h * h];
            var b = new float[d * 2 * gates * h];
            for (int dir = 0; dir < d; dir++)
            {
                Reorder(r.WeightIh(l, dir).Value.ToArray(), order, h, inSize, w.AsSpan(dir * gates * h * inSize));
                Reorder(r.WeightHh(l, dir).Value.ToArray(), order, h, h, rr.AsSpan(dir * gates * h * h));
                if (r.HasBias)
                {
                    Reorder(r.BiasIh(l, dir)!.Value.ToArray(), order, h, 1, b.AsSpan(dir * 2 * gates * h));
                    Reorder(r.BiasHh(l, dir)!.Value.ToArray(), order, h, 1, b.AsSpan(dir * 2 * gates * h + gates * h));
                }
            }
            string prefix = $"rnn.l{l}";
            string y = g.Name($"{prefix}_y"), yh = g.Name($"{prefix}_yh");
            var attrs = new List<(string, object)> { ("hidden_size", (long)h), ("direction", d == 2 ? "bidirectional" : "forward") };
            if (r.Mode == RecurrentMode.Gru) attrs.Add(("linear_before_reset", 1L));
            if (r.Mode is RecurrentMode.RnnTanh or RecurrentMode.RnnRelu)
                attrs.Add(("activations", Enumerable.Repeat(r.Mode == RecurrentMode.RnnRelu ? "Relu" : "Tanh", d).ToArray()));
            string[] outs = r.Mode == RecurrentMode.Lstm ? [y, yh, g.Name($"{prefix}_yc")] : [y, yh];
            g.Node(op, [x, g.Initializer($"{prefix}.W", w, d, gates * h, inSize), g.Initializer($"{prefix}.R", rr, d, gates * h, h),
                g.Initializer($"{prefix}.B", b, d, 2 * gates * h), lengths ?? ""], outs, [.. attrs]);
            finals.Add(yh);
            // Y is (T, D, B, H): to (T, B, D, H), then (T, B, D*H).
            string t = g.Name($"{prefix}_yt");
            g.Node("Transpose", [y], [t], ("perm", new long[] { 0, 2, 1, 3 }));
            x = g.Name($"{prefix}_out");
            g.Node("Reshape", [t, g.Initializer(g.Name("shape"), new long[] { 0, 0, -1 }, 3)], [x]);
        }
        return (x, finals);
    }

    /// <summary>Copies gate blocks (each h rows of <paramref name="cols"/>) in ONNX order.</summary>
    private static void Reorder(float[] src, int[] order, int h, int cols, Span<float> dst)
    {
        for (int k = 0; k < order.Length; k++)
            src.AsSpan(order[k] * h * cols, h * cols).CopyTo(dst.Slice(k * h * cols, h * cols));
    }
}
