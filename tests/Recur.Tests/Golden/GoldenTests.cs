using Recur.IO;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Tests.Support;

namespace Recur.Tests.Golden;

/// <summary>
/// PyTorch reference cases: every *.safetensors file in RECUR_GOLDEN_DIR (default ../shared/golden) is its own
/// test case, named after the file, and is checked by its <c>__metadata__.kind</c>. New files are picked up with
/// no code change. Kinds whose feature has not landed yet are reported as skipped, with the reason.
/// </summary>
public class GoldenTests
{
    private const string NoFiles = "(no golden files)";
    private const double Tolerance = 1e-4;

    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        string dir = Repo.GoldenDir;
        var files = Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.safetensors").Select(Path.GetFileName).OrderBy(f => f, StringComparer.Ordinal).ToList()
            : [];
        foreach (var f in files) data.Add(f!);
        if (files.Count == 0) data.Add(NoFiles);
        return data;
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Case(string file)
    {
        if (file == NoFiles)
            Assert.Skip($"no *.safetensors files in {Repo.GoldenDir}: set RECUR_GOLDEN_DIR or place the shared folder beside the repository");
        var st = SafeTensorsFile.Load(Path.Combine(Repo.GoldenDir, file));
        string kind = st.Metadata.TryGetValue("kind", out var k) ? k : "(missing)";
        switch (kind)
        {
            case "recurrent": RecurrentCase(st); break;
            case "cross_entropy": CrossEntropyCase(st); break;
            case "optimizer": OptimizerCase(st); break;
            case "ctc": CtcCase(st); break;
            default: Assert.Skip($"kind = {kind}: no checker for this kind of case yet"); break;
        }
    }

    /// <summary>PyTorch's <c>proj_size</c> of a recurrent case (LSTM with a projection, LSTMP); 0 when the metadata has none.</summary>
    internal static int ProjSize(IReadOnlyDictionary<string, string> meta) =>
        meta.ContainsKey("proj_size") ? Int(meta, "proj_size") : 0;

    internal static bool Flag(IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) && (v.Equals("true", StringComparison.OrdinalIgnoreCase) || v == "1");

    internal static int Int(IReadOnlyDictionary<string, string> meta, string key) =>
        meta.TryGetValue(key, out var v) ? int.Parse(v, System.Globalization.CultureInfo.InvariantCulture)
        : throw new InvalidDataException($"golden metadata lacks '{key}'");

    internal static RecurrentMode ParseMode(string mode) => mode switch
    {
        "rnn_tanh" => RecurrentMode.RnnTanh,
        "rnn_relu" => RecurrentMode.RnnRelu,
        "lstm" => RecurrentMode.Lstm,
        "gru" => RecurrentMode.Gru,
        _ => throw new InvalidDataException($"unknown golden mode '{mode}'"),
    };

    private static void RecurrentCase(SafeTensorsFile st)
    {
        var meta = st.Metadata;
        var mode = ParseMode(meta["mode"]);
        var layer = new Recurrent(mode, Int(meta, "input_size"), Int(meta, "hidden_size"), Int(meta, "num_layers"),
            bidirectional: Flag(meta, "bidirectional"), bias: Flag(meta, "bias"), batchFirst: Flag(meta, "batch_first"), projSize: ProjSize(meta));
        var state = layer.NamedParameters().ToDictionary(kv => kv.Key, kv => st.ReadTensor(kv.Key));
        layer.LoadStateDict(state);

        int[]? lengths = st.Contains("lengths") ? st.ReadInt64("lengths").Select(v => (int)v).ToArray() : null;
        Tensor? h0 = st.Contains("h0") ? st.ReadTensor("h0") : null;
        Tensor? c0 = st.Contains("c0") ? st.ReadTensor("c0") : null;
        using var result = layer.Forward(st.ReadTensor("x"), lengths, h0, c0);

        var report = new Compare.Report(Tolerance);
        report.Check("y", result.Output.Span, st.ReadFloat64("y"));
        report.Check("h_n", result.HiddenState.Span, st.ReadFloat64("h_n"));
        if (st.Contains("c_n")) report.Check("c_n", result.CellState!.Span, st.ReadFloat64("c_n"));

        // loss = sum(y*R) + sum(h_n*RH) [+ sum(c_n*RC)]; dL/dy = R, dL/dh_n = RH, dL/dc_n = RC.
        var r = st.ReadTensor("R");
        var rh = st.ReadTensor("RH");
        var rc = st.Contains("RC") ? st.ReadTensor("RC") : null;
        double loss = Dot(result.Output.Span, r.Span) + Dot(result.HiddenState.Span, rh.Span)
                      + (rc is null ? 0 : Dot(result.CellState!.Span, rc.Span));
        report.Check("loss", new[] { (float)loss }, st.ReadFloat64("loss"));

        layer.ZeroGrad();
        var grads = result.Backward(r, rh, rc);
        report.Check("grad.x", grads.Input.Span, st.ReadFloat64("grad.x"));
        if (st.Contains("grad.h0")) report.Check("grad.h0", grads.HiddenState.Span, st.ReadFloat64("grad.h0"));
        if (st.Contains("grad.c0")) report.Check("grad.c0", grads.CellState!.Span, st.ReadFloat64("grad.c0"));
        foreach (var (name, p) in layer.NamedParameters())
            report.Check($"grad.{name}", p.Grad.Span, st.ReadFloat64($"grad.{name}"));
        report.AssertAll();
    }

    private static void CrossEntropyCase(SafeTensorsFile st)
    {
        var logits = st.ReadTensor("logits");
        int[] target = st.ReadInt64("target").Select(v => (int)v).ToArray();
        float smoothing = st.Metadata.TryGetValue("label_smoothing", out var s)
            ? float.Parse(s, System.Globalization.CultureInfo.InvariantCulture) : 0f;
        int ignore = st.Metadata.TryGetValue("ignore_index", out var ig) ? int.Parse(ig, System.Globalization.CultureInfo.InvariantCulture) : -100;
        var ce = new CrossEntropyLoss(ignoreIndex: ignore, labelSmoothing: smoothing);
        var dLogits = new Tensor(logits.Shape.ToArray());
        float loss = ce.Forward(logits, target, dLogits);
        var report = new Compare.Report(Tolerance);
        report.Check("loss", new[] { loss }, st.ReadFloat64("loss"));
        report.Check("grad.logits", dLogits.Span, st.ReadFloat64("grad.logits"));
        report.AssertAll();
    }

    /// <summary>
    /// ctc_loss(log_softmax(logits, 2), targets (N, S) padded, ...): the float32 loss at 1e-4 and its float64 twin
    /// (<see cref="Recur.Kernels.Reference.CtcReference"/>) at 1e-9, loss and gradient.
    /// </summary>
    private static void CtcCase(SafeTensorsFile st)
    {
        var meta = st.Metadata;
        Assert.Equal("0", meta["blank"]);
        var reduction = meta["reduction"] switch
        {
            "mean" => CtcReduction.Mean,
            "sum" => CtcReduction.Sum,
            var r => throw new InvalidDataException($"unknown ctc reduction '{r}'"),
        };
        bool zeroInfinity = Flag(meta, "zero_infinity");
        var logits = st.ReadTensor("logits");
        int t = logits.Dim(0), n = logits.Dim(1), c = logits.Dim(2);
        long[] padded = st.ReadInt64("targets");
        int s = st.Info("targets").Shape[1];
        int[] inputLengths = st.ReadInt64("input_lengths").Select(v => (int)v).ToArray();
        int[] targetLengths = st.ReadInt64("target_lengths").Select(v => (int)v).ToArray();
        int[][] targets = Enumerable.Range(0, n).Select(b => padded.Skip(b * s).Take(targetLengths[b]).Select(v => (int)v).ToArray()).ToArray();

        var loss = new CtcLoss(reduction, zeroInfinity);
        var dLogits = new Tensor(t, n, c);
        float value = loss.Forward(logits, inputLengths, targets.SelectMany(x => x).ToArray(), targetLengths, dLogits);
        var report = new Compare.Report(Tolerance);
        report.Check("loss", new[] { value }, st.ReadFloat64("loss"));
        report.Check("grad.logits", dLogits.Span, st.ReadFloat64("grad.logits"));
        report.AssertAll();

        var grad64 = new double[t * n * c];
        double value64 = Recur.Kernels.Reference.CtcReference.Loss(st.ReadFloat64("logits"), t, n, c, inputLengths, targets,
            reduction == CtcReduction.Mean, zeroInfinity, grad64);
        var twin = new Compare.Report(1e-9);
        twin.Check("twin loss", new[] { value64 }, st.ReadFloat64("loss"));
        twin.Check("twin grad.logits", grad64, st.ReadFloat64("grad.logits"));
        twin.AssertAll();
    }

    private static void OptimizerCase(SafeTensorsFile st)
    {
        var meta = st.Metadata;
        var holder = new ParameterHolder(st.Info("p.0").Shape, st.Info("q.0").Shape);
        st.ReadFloat32("p.0").CopyTo(holder.P.Value.Span);
        st.ReadFloat32("q.0").CopyTo(holder.Q.Value.Span);
        Parameter[] ps = [holder.P, holder.Q];
        float F(string key, float fallback) =>
            meta.TryGetValue("opt." + key, out var v) ? float.Parse(v, System.Globalization.CultureInfo.InvariantCulture) : fallback;
        (float, float) Pair(string key, (float, float) fallback)
        {
            if (!meta.TryGetValue("opt." + key, out var v)) return fallback;
            var parts = v.Trim('(', ')', ' ').Split(',');
            return (float.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), float.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        bool B(string key) => Flag(meta, "opt." + key);
        float lr = F("lr", float.NaN);
        Optimizer opt = meta["optimizer"] switch
        {
            "SGD" => new Sgd(ps, lr, F("momentum", 0), F("dampening", 0), F("weight_decay", 0), B("nesterov")),
            "Adam" => new Adam(ps, lr, Pair("betas", (0.9f, 0.999f)).Item1, Pair("betas", (0.9f, 0.999f)).Item2, F("eps", 1e-8f), F("weight_decay", 0)),
            "AdamW" => new AdamW(ps, lr, Pair("betas", (0.9f, 0.999f)).Item1, Pair("betas", (0.9f, 0.999f)).Item2, F("eps", 1e-8f), F("weight_decay", 0.01f)),
            "RMSprop" => new RmsProp(ps, lr, F("alpha", 0.99f), F("eps", 1e-8f), F("weight_decay", 0), F("momentum", 0), B("centered")),
            "Adagrad" => new Adagrad(ps, lr, F("lr_decay", 0), F("weight_decay", 0), F("initial_accumulator_value", 0), F("eps", 1e-10f)),
            var other => throw new InvalidDataException($"unknown golden optimizer '{other}'"),
        };
        string clip = meta.TryGetValue("clip_grad_norm", out var c) ? c : "none";
        var report = new Compare.Report(Tolerance);
        int steps = Int(meta, "steps");
        for (int s = 1; s <= steps; s++)
        {
            st.ReadFloat32($"gp.{s}").CopyTo(holder.P.Grad.Span);
            st.ReadFloat32($"gq.{s}").CopyTo(holder.Q.Grad.Span);
            if (clip != "none")
            {
                float norm = GradientClipping.ClipByNorm(ps, float.Parse(clip, System.Globalization.CultureInfo.InvariantCulture));
                report.Check($"total_norm.{s}", new[] { norm }, st.ReadFloat64($"total_norm.{s}"));
            }
            opt.Step();
            report.Check($"p.{s}", holder.P.Value.Span, st.ReadFloat64($"p.{s}"));
            report.Check($"q.{s}", holder.Q.Value.Span, st.ReadFloat64($"q.{s}"));
        }
        report.AssertAll();
    }

    private sealed class ParameterHolder : Module
    {
        public ParameterHolder(int[] p, int[] q)
        {
            P = AddParameter("p", p);
            Q = AddParameter("q", q);
        }

        public Parameter P { get; }
        public Parameter Q { get; }
    }

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i];
        return s;
    }
}
